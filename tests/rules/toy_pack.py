"""A toy second rule pack (one rule, one service, one hook) that proves the pack contract: it is registered by
adding one entry to `cds_service.rules.registry.PACKS`, and nothing else in the service changes.

Hook `encounter-start` (no draftOrders): an info card when the patient has a current opioid on record.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cds_service.hooks.prefetch import PrefetchTemplate
from cds_service.record.model import MedicationUse, PatientRecord
from cds_service.rules.base import Finding, Rule, RuleContext, Scope, ServiceSpec, rule
from cds_service.terminology import Terminology, get_terminology

ENTRY = "tests.rules.toy_pack:ToyPack"
SCOPE = "patient-on-opioid"


class ToyConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDS_TOY_", extra="ignore")

    greeting: str = Field("Opioid on record", description="First words of the toy card's summary.")


def current_opioids(record: PatientRecord) -> list[MedicationUse]:
    return record.current_opioids()


@rule(id="toy-opioid-on-record", title="Opioid on record (toy)", indicators=("info",),
      trigger="A current opioid on record at encounter start.", suggestions="None.", source="Toy pack (tests).",
      applies_to=(SCOPE,), needs=("medicationRequests",))
def opioid_on_record(ctx: RuleContext[ToyConfig]) -> Finding | None:
    opioid = ctx.order
    return Finding(rule_id="toy-opioid-on-record", title="Opioid on record (toy)", indicator="info",
                   summary=f"{ctx.config.greeting}: {opioid.display}",
                   detail=f"A current opioid is on record.\n\n**Evidence**\n- `{opioid.ref}`",
                   order_ref=opioid.ref, evidence=(opioid.ref,), source_label="Toy pack")


class ToyPack:
    id = "toy"
    source_label = "Toy pack"
    services = (ServiceSpec("toy-encounter-start", "encounter-start", "Toy: opioid on record",
                            "Says when the patient has a current opioid on record (a test pack)."),)
    prefetch = (PrefetchTemplate("medicationRequests", "MedicationRequest?patient={{context.patientId}}&status=active",
                                 "medication orders", ("MedicationRequest", "Medication")),)
    scopes = (Scope(SCOPE, "encounter start (patients on an opioid)", ("encounter-start",),
                    therapy=current_opioids, therapy_needs=("medicationRequests",)),)
    rules: tuple[Rule, ...] = (opioid_on_record,)
    history_days = None

    def __init__(self, terminology: Terminology | None = None) -> None:
        self.config = ToyConfig()
        self.terminology = terminology or get_terminology()
