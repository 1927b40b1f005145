"""The per-patient evaluation of a replay: one pure function, the same for every engine.

`replay_patient(patient_id, resources, medications, job)` takes every exported resource of one patient (only
the types and codes the packs read), finds the MedicationRequests a pack checks in the window, rebuilds the
record as it was when each was signed (`needs.known_by`), and runs the service's own pipeline on an
`order-sign` call whose draft is that order and whose prefetch is that record. Its answer depends on its
arguments only, so an engine may apply it anywhere (a thread, a Spark executor) in any order.

Orders of one patient signed at the same instant are one signing session: one call with all of them as
drafts, as the EHR would have sent it. Each card is attributed to the order its finding is about.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import orjson

from cds_service.errors import ServiceError
from cds_service.fhir.read import parse_date, reference_id
from cds_service.pipeline import Pipeline
from cds_service.record.build import draft_uses, medication_index
from cds_service.replay.needs import Needs, known_by, needs_of
from cds_service.rules.base import RulePack, ServiceSpec
from cds_service.rules.engine import order_checks
from cds_service.settings import Settings

log = logging.getLogger(__name__)

HOOK = "order-sign"
NOT_SIGNED = frozenset({"entered-in-error", "draft"})  # never signed: nothing to replay
NOT_ORDERS = frozenset({"proposal", "plan", "directive", "option"})  # intents that are not an order being signed


@dataclass(frozen=True, slots=True)
class ReplayJob:
    """What every patient's evaluation shares (small and picklable: sent to every Spark executor)."""

    since: date | None  # orders authored on or after this day
    until: date | None  # orders authored before this day
    hash_key: str  # CDS_PATIENT_HASH_KEY: cards name the patient by the ledger's keyed hash
    missing_types: frozenset[str] = frozenset()  # resource types the export has no file of
    # CDS_SITE_CONCEPTMAP: the site's local codes, read as the service reads them (a path every executor sees)
    site_conceptmap: str | None = None


@dataclass(frozen=True, slots=True)
class ReplayCard:
    """One line of cards.ndjson (its field names are a public contract)."""

    order: str
    rule: str
    indicator: str
    summary: str
    patient: str

    def sort_key(self) -> str:
        return "\x1f".join((self.order, self.rule, self.indicator, self.summary))

    def line(self) -> bytes:
        return orjson.dumps({"order": self.order, "rule": self.rule, "indicator": self.indicator,
                             "summary": self.summary, "patient": self.patient})


@dataclass(frozen=True, slots=True)
class OrderReplay:
    """One replayed order: its cards, and what its record lacked."""

    order: str
    authored: str
    cards: tuple[ReplayCard, ...] = ()
    evidence: tuple[str, ...] = ()  # per card: "rule: the resource types it cites"
    unavailable: tuple[str, ...] = ()  # data categories the export has no file of
    empty: tuple[str, ...] = ()  # data categories the export had nothing of for this patient (as of then)
    left_out: int = 0  # resources left out as recorded or changed after the order
    error: str | None = None  # the call was refused (e.g. 412): no cards, and not "no warnings" either

    @property
    def month(self) -> str:
        return self.authored[:7]


@dataclass(slots=True)
class _Runtime:
    packs: list[RulePack]
    needs: Needs
    settings: Settings
    services: list[tuple[ServiceSpec, RulePack]] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    pipelines: dict[date, Pipeline] = field(default_factory=dict)

    def pipeline(self, today: date) -> Pipeline:
        found = self.pipelines.get(today)
        if found is None:
            if len(self.pipelines) > 4096:
                self.pipelines.clear()
            settings = self.settings.model_copy(update={"today": today})
            found = self.pipelines[today] = Pipeline(settings, self.packs)
        return found


@cache
def runtime(site_conceptmap: str | None = None) -> _Runtime:
    """The packs and pipeline of this process, built once per site ConceptMap (each Spark Python worker
    builds its own). What the packs read (`needs`) does not depend on the map; their terminology does."""
    from cds_service.rules.registry import default_packs

    packs = default_packs(site_conceptmap)
    # silent mode is about live responses: a replay shows every rule's cards
    settings = Settings(auth_mode="off", silent_rules=[], silent_services=[])
    rt = _Runtime(packs=packs, needs=needs_of(packs), settings=settings)
    rt.services = [(spec, pack) for pack in packs for spec in pack.services if spec.hook == HOOK]
    return rt


def patient_hash(key: str, patient_id: str) -> str:
    """The ledger's keyed hash of a patient id (`Store.patient_hash`): HMAC-SHA256, hex."""
    return hmac.new(key.encode(), patient_id.encode(), hashlib.sha256).hexdigest()


def _in_window(authored: date, job: ReplayJob) -> bool:
    return (job.since is None or authored >= job.since) and (job.until is None or authored < job.until)


def _as_draft(order: dict) -> dict:
    draft = copy.deepcopy(order)
    draft["status"] = "draft"  # as the EHR sends it at signature
    draft.pop("meta", None)
    return draft


def candidate_orders(resources: Sequence[dict], medications: Mapping[str, dict], job: ReplayJob,
                     patient_id: str) -> list[tuple[ServiceSpec, RulePack, dict]]:
    """The patient's MedicationRequests in the window that a pack checks, with the service that checks them."""
    rt = runtime(job.site_conceptmap)
    out = []
    for r in resources:
        if r.get("resourceType") != "MedicationRequest" or r.get("status") in NOT_SIGNED \
                or r.get("intent") in NOT_ORDERS or not isinstance(r.get("id"), str):
            continue
        authored = parse_date(r.get("authoredOn"))
        if authored is None or not _in_window(authored, job):
            continue
        draft = _as_draft(r)
        index = medication_index(_referenced([draft], medications))
        for spec, pack in rt.services:
            uses = draft_uses([draft], index, pack.terminology, authored, patient_id)
            if order_checks(pack, spec.hook, uses):
                out.append((spec, pack, r))
                break
    return out


_CHECKED: dict[bytes, bool] = {}  # the drug of an order -> whether a pack checks it (orders repeat drugs)


def checks_order(order: dict, medications: Mapping[str, dict], job: ReplayJob) -> bool:
    """Whether a pack checks this MedicationRequest in the window (the engines' first pass: which patients
    need a record at all). The same test as `candidate_orders`, remembered per drug."""
    if order.get("resourceType") != "MedicationRequest" or order.get("status") in NOT_SIGNED \
            or order.get("intent") in NOT_ORDERS or not isinstance(order.get("id"), str):
        return False
    authored = parse_date(order.get("authoredOn"))
    if authored is None or not _in_window(authored, job):
        return False
    ref = order.get("medicationReference")
    mid = reference_id(ref, "Medication")
    key = orjson.dumps([order.get("medicationCodeableConcept"), ref, order.get("contained"),
                        medications.get(mid) if mid else None], option=orjson.OPT_SORT_KEYS)
    found = _CHECKED.get(key)
    if found is None:
        patient = reference_id(order.get("subject"), "Patient") or "unknown"
        found = bool(candidate_orders([order], medications, job, patient))
        if len(_CHECKED) > 65536:
            _CHECKED.clear()
        _CHECKED[key] = found
    return found


def _referenced(resources: Sequence[dict], medications: Mapping[str, dict]) -> list[dict]:
    """The exported Medications these resources point to (`medicationReference`)."""
    out: dict[str, dict] = {}
    for r in resources:
        mid = reference_id(r.get("medicationReference"), "Medication")
        if mid and mid in medications and mid not in out:
            out[mid] = medications[mid]
    return list(out.values())


def _outcome(text: str) -> dict:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "not-found", "diagnostics": text}]}


def _request(patient_id: str, drafts: list[dict], record: list[dict], medications: Mapping[str, dict],
             pack: RulePack, job: ReplayJob) -> tuple[dict, list[str], list[str]]:
    """The order-sign call of one signing session; also the categories unavailable / empty in it."""
    rt = runtime(job.site_conceptmap)
    prefetch: dict[str, Any] = {}
    unavailable, empty = [], []
    referenced = _referenced(record, medications)
    medications_placed = False
    for need in rt.needs.templates:
        template = need.template
        if template not in pack.prefetch:
            continue
        if need.search_type in job.missing_types:
            prefetch[template.key] = _outcome(f"the export has no {need.search_type} file")
            unavailable.append(template.category)
            continue
        if need.search_type == "Patient":
            patient = next((r for r in record if r.get("resourceType") == "Patient"), None)
            prefetch[template.key] = patient
            if patient is None:
                empty.append(template.category)
            continue
        chosen = [r for r in record if need.takes(r) and r.get("resourceType") != "Medication"]
        if not chosen:
            empty.append(template.category)
        if "Medication" in template.resource_types and not medications_placed:
            chosen += referenced
            medications_placed = True
        prefetch[template.key] = {"resourceType": "Bundle", "type": "searchset", "total": len(chosen),
                                  "entry": [{"resource": r} for r in chosen]}
    context: dict[str, Any] = {
        "patientId": patient_id, "userId": "Practitioner/replay",
        # the Medications the drafts name travel with them, as an EHR sends them (the pipeline decides
        # from the draft orders alone whether a pack checks them)
        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                        "entry": [{"resource": d} for d in [*drafts, *_referenced(drafts, medications)]]},
    }
    encounter = reference_id(drafts[0].get("encounter"), "Encounter")
    if encounter:
        context["encounterId"] = encounter
    request = {"hook": HOOK, "hookInstance": f"replay-{drafts[0]['id']}", "context": context, "prefetch": prefetch}
    return request, unavailable, empty


def _evidence(finding: Any) -> str:
    types = sorted({ref.split("/", 1)[0] for ref in finding.evidence if "/" in ref})
    return f"{finding.rule_id}: {', '.join(types) if types else 'no record cited'}"


def replay_patient(patient_id: str, resources: Sequence[dict], medications: Mapping[str, dict],
                   job: ReplayJob) -> list[OrderReplay]:
    """Every checked order of one patient, replayed as of its signature. Pure: same inputs, same output."""
    orders = candidate_orders(resources, medications, job, patient_id)
    if not orders:
        return []
    rt = runtime(job.site_conceptmap)
    hashed = patient_hash(job.hash_key, patient_id)
    sessions: dict[tuple[str, str], list[tuple[ServiceSpec, RulePack, dict]]] = {}
    for spec, pack, order in orders:
        sessions.setdefault((spec.id, order["authoredOn"]), []).append((spec, pack, order))
    results: list[OrderReplay] = []
    for (service_id, authored), members in sorted(sessions.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        pack = members[0][1]
        session_ids = {o["id"] for _s, _p, o in members}
        record, left_out = [], 0
        for r in resources:
            if r.get("resourceType") == "MedicationRequest" and r.get("id") in session_ids:
                continue
            if known_by(r, authored):
                record.append(r)
            else:
                left_out += 1
        drafts = [_as_draft(o) for _s, _p, o in members]
        request, unavailable, empty = _request(patient_id, drafts, record, medications, pack, job)
        today = parse_date(authored)
        assert today is not None  # candidate_orders read it
        refs = [f"MedicationRequest/{o['id']}" for _s, _p, o in members]
        try:
            outcome = rt.loop.run_until_complete(rt.pipeline(today).run(service_id, request))
        except ServiceError as err:
            results += [OrderReplay(ref, authored, unavailable=tuple(unavailable), empty=tuple(empty),
                                    left_out=left_out, error=f"HTTP {err.status}: {err.message}") for ref in refs]
            continue
        by_order: dict[str, list[ReplayCard]] = {ref: [] for ref in refs}
        evidence: dict[str, list[str]] = {ref: [] for ref in refs}
        for rendered in outcome.cards:  # each card with the finding it was rendered from
            finding, card = rendered.finding, rendered.card
            ref = finding.order_ref if finding.order_ref in by_order else refs[0]
            by_order[ref].append(ReplayCard(ref, finding.rule_id, card["indicator"], card["summary"], hashed))
            evidence[ref].append(_evidence(finding))
        for ref in refs:
            cards = tuple(sorted(by_order[ref], key=ReplayCard.sort_key))
            results.append(OrderReplay(ref, authored, cards, tuple(sorted(evidence[ref])), tuple(unavailable),
                                       tuple(empty), left_out))
    return results


def replay_patient_lines(patient_id: str, lines: Sequence[bytes | str], medications: Mapping[str, dict],
                         job: ReplayJob) -> list[OrderReplay]:
    """`replay_patient` over raw NDJSON lines (what the engines move around), in a canonical order: whatever
    order an engine grouped them in, the patient's record is read the same way."""
    canonical = sorted(line.strip() if isinstance(line, bytes) else line.strip().encode() for line in lines)
    return replay_patient(patient_id, [orjson.loads(line) for line in canonical], medications, job)
