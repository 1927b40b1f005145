"""One hook call, start to finish: request → gather → record → rules → cards.

Each step lives in its own package; this module only connects them, in one direction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from cds_service.cards.render import cards as render_cards
from cds_service.errors import NotFound
from cds_service.fhir.gather import Fetcher, Gathered, gather, resolve_draft_medications
from cds_service.hooks.prefetch import PrefetchTemplate
from cds_service.hooks.request import HookCall, parse_hook_call
from cds_service.record.build import build_record, draft_uses, medication_index
from cds_service.rules.base import Evaluation, RulePack, ServiceSpec, evaluate
from cds_service.settings import Settings

log = logging.getLogger(__name__)

FetcherFactory = Callable[[HookCall], "Fetcher | None"]
# reading what the FHIR server sent may run this long past the FHIR deadline (the rules and cards after it
# take a millisecond): the whole call answers within the deadline + 100 ms
CPU_GRACE_SECONDS = 0.05


def _categories(templates: Sequence[PrefetchTemplate]) -> dict[str, list[str]]:
    """resource type -> the data categories of the templates that fetch it."""
    out: dict[str, list[str]] = {}
    for t in templates:
        for rtype in t.resource_types:
            out.setdefault(rtype, []).append(t.category)
    return out


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a hook call produced: the response body and what the ledger must remember."""

    response: dict[str, Any]
    call: HookCall | None
    service: ServiceSpec
    evaluation: Evaluation | None
    silent: tuple[dict[str, Any], ...] = ()  # cards of silent rules: for the ledger, never for the response


class Pipeline:
    def __init__(self, settings: Settings, packs: Sequence[RulePack],
                 fetcher_factory: FetcherFactory | None = None) -> None:
        self.settings = settings
        self.packs = list(packs)
        self.fetcher_factory = fetcher_factory or (lambda call: None)
        self.services: dict[str, tuple[ServiceSpec, RulePack]] = {}
        for pack in self.packs:
            for spec in pack.services:
                self.services[spec.id] = (spec, pack)

    def today(self) -> date:
        return self.settings.today or date.today()

    def discovery(self) -> dict[str, Any]:
        services = []
        for spec, pack in self.services.values():
            entry: dict[str, Any] = {"hook": spec.hook, "title": spec.title, "description": spec.description,
                                     "id": spec.id, "prefetch": {t.key: t.query for t in pack.prefetch}}
            if spec.usage_requirements:
                entry["usageRequirements"] = spec.usage_requirements
            services.append(entry)
        return {"services": services}

    def service(self, service_id: str) -> tuple[ServiceSpec, RulePack]:
        found = self.services.get(service_id)
        if found is None:
            known = ", ".join(sorted(self.services))
            raise NotFound(f"No CDS service '{service_id[:100]}'. Services: {known} (GET /cds-services).")
        return found

    async def run(self, service_id: str, data: Any) -> Outcome:
        spec, pack = self.service(service_id)
        call = parse_hook_call(data, expected_hook=spec.hook, service_id=spec.id)
        today = self.today()
        terminology = pack.terminology  # type: ignore[attr-defined]

        # decide from the draft orders alone: an unrelated order never touches the prefetch
        draft_meds = [r for r in call.draft_orders if r.get("resourceType") == "Medication"]
        draft_index = medication_index(draft_meds)
        drafts = draft_uses(call.draft_orders, draft_index, terminology, today, call.patient_id)
        selected = drafts if call.selections is None else [d for d in drafts if d.ref in call.selections]
        fetcher: Fetcher | None = None
        unresolved: dict[str, str] = {}
        if any(d.unresolved_reference for d in selected):
            fetcher = self.fetcher_factory(call)
            # a draft names a Medication the request does not carry: read it before deciding the order is
            # unrelated (never a silent `cards: []` for an opioid or naltrexone order nobody could read)
            found, unresolved = await resolve_draft_medications(call, selected, fetcher)
            if found:
                draft_meds = draft_meds + found
                draft_index = medication_index(draft_meds)
                drafts = draft_uses(call.draft_orders, draft_index, terminology, today, call.patient_id)
                selected = drafts if call.selections is None else [d for d in drafts if d.ref in call.selections]
        checks = pack.checks(selected)
        if not checks:
            return Outcome({"cards": []}, call, spec, None)

        keys = {k for check in checks for k in check.prefetch_keys}
        templates = [t for t in pack.prefetch if t.key in keys]
        if fetcher is None and templates:
            fetcher = self.fetcher_factory(call)
        gathered = await gather(call, templates, fetcher) if templates else Gathered(call.patient_id)

        index = medication_index(draft_meds + gathered.resources)
        if len(index) > len(draft_index) and any(d.unresolved_reference for d in drafts):
            # a draft names a Medication that only the gathered data holds: read the drafts again with it
            drafts = draft_uses(call.draft_orders, index, terminology, today, call.patient_id)
        record = build_record(call.patient_id, gathered.resources, drafts, today, terminology,
                              gathered.unavailable, index, history_days=pack.history_days,
                              dropped=gathered.dropped,
                              deadline=None if gathered.deadline is None else gathered.deadline + CPU_GRACE_SECONDS,
                              categories=_categories(templates))
        record.unresolved_orders = {d.ref: unresolved.get(d.unresolved_reference or "", "it could not be read")
                                    for d in drafts if d.unresolved_reference}
        # the checked orders, re-read with every Medication now at hand
        by_ref = {d.ref: d for d in drafts}
        checks = [replace(c, order=by_ref.get(c.order.ref, c.order)) for c in checks]
        evaluation = evaluate(pack, record, checks, call.patient_id, call.encounter_id)
        shown, silent = self.split_silent(spec.id, render_cards(evaluation.findings))
        return Outcome({"cards": shown}, call, spec, evaluation, tuple(silent))

    def split_silent(self, service_id: str, rendered: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
        """(shown, silent) cards: silent mode (`CDS_SILENT_RULES`, `CDS_SILENT_SERVICES`) runs a rule as usual
        but keeps its card out of the response."""
        if not self.settings.silent_rules and not self.settings.silent_services:
            return rendered, []
        shown: list[dict[str, Any]] = []
        silent: list[dict[str, Any]] = []
        for card in rendered:
            quiet = self.settings.is_silent(service_id, card["source"]["topic"]["code"])
            (silent if quiet else shown).append(card)
        return shown, silent
