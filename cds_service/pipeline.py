"""One hook call, start to finish: request → gather → record → rules → cards.

Each step lives in its own package; this module only connects them, in one direction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from cds_service.cards.render import RenderedCard, render_all
from cds_service.errors import NotFound, PreconditionFailed
from cds_service.fhir.gather import Fetcher, merge
from cds_service.gather import Gathered, gather, resolve_draft_medications
from cds_service.hooks.prefetch import PrefetchTemplate
from cds_service.hooks.request import HookCall, parse_hook_call
from cds_service.record.build import build_record, draft_uses, medication_index
from cds_service.rules import engine
from cds_service.rules.base import Evaluation, RulePack, Scope, ServiceSpec
from cds_service.settings import Settings

log = logging.getLogger(__name__)

FetcherFactory = Callable[[HookCall], "Fetcher | None"]
# reading what the FHIR server sent may run this long past the FHIR deadline (the rules and cards after it
# take a millisecond): the whole call answers within the deadline + 100 ms
CPU_GRACE_SECONDS = 0.05


def _keys_by_type(templates: Sequence[PrefetchTemplate]) -> dict[str, list[str]]:
    """resource type -> the prefetch keys of the templates that fetch it (what becomes unavailable when the
    record builder runs out of time before reading that type)."""
    out: dict[str, list[str]] = {}
    for t in templates:
        for rtype in t.resource_types:
            out.setdefault(rtype, []).append(t.key)
    return out


def _reading_deadline(gathered: Gathered) -> float | None:
    """When the record builder must stop reading (time.monotonic()): the FHIR deadline plus the CPU grace,
    when the FHIR server was used."""
    return None if gathered.deadline is None else gathered.deadline + CPU_GRACE_SECONDS


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a hook call produced: the cards to answer and what the ledger must remember of them."""

    call: HookCall | None
    service: ServiceSpec
    evaluation: Evaluation | None
    cards: tuple[RenderedCard, ...] = ()  # the response's cards, in order, each with its finding and uuids
    silent: tuple[RenderedCard, ...] = ()  # cards of silent rules: for the ledger, never for the response

    @property
    def response(self) -> dict[str, Any]:
        """The CDS Hooks response body: the shown cards' JSON."""
        return {"cards": [c.card for c in self.cards]}


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
            keys = set(engine.service_keys(pack, spec.hook))
            entry: dict[str, Any] = {"hook": spec.hook, "title": spec.title, "description": spec.description,
                                     "id": spec.id,
                                     "prefetch": {t.key: t.query for t in pack.prefetch if t.key in keys}}
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
        scope = engine.patient_scope(pack, spec.hook)
        if scope is not None:
            return await self._run_patient(spec, pack, scope, call)
        today = self.today()
        terminology = pack.terminology

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
        checks = engine.order_checks(pack, spec.hook, selected)
        if not checks:
            return Outcome(call, spec, None)

        keys = {k for check in checks for k in check.prefetch_keys}
        templates = engine.templates_of(pack, keys)
        if fetcher is None and templates:
            fetcher = self.fetcher_factory(call)
        gathered = await gather(call, templates, fetcher) if templates else Gathered(call.patient_id)

        index = medication_index(draft_meds + gathered.resources)
        if len(index) > len(draft_index) and any(d.unresolved_reference for d in drafts):
            # a draft names a Medication that only the gathered data holds: read the drafts again with it
            drafts = draft_uses(call.draft_orders, index, terminology, today, call.patient_id)
        record = build_record(call.patient_id, gathered.resources, drafts, today, terminology,
                              gathered.unavailable, index, history_days=pack.history_days,
                              dropped=gathered.dropped, deadline=_reading_deadline(gathered),
                              keys_by_type=_keys_by_type(templates))
        record.unresolved_orders = {d.ref: unresolved.get(d.unresolved_reference or "", "it could not be read")
                                    for d in drafts if d.unresolved_reference}
        # the checked orders, re-read with every Medication now at hand
        by_ref = {d.ref: d for d in drafts}
        checks = [replace(c, order=by_ref.get(c.order.ref, c.order)) for c in checks]
        evaluation = engine.evaluate(pack, record, checks, call.patient_id, call.encounter_id)
        return self._outcome(call, spec, evaluation)

    async def _run_patient(self, spec: ServiceSpec, pack: RulePack, scope: Scope, call: HookCall) -> Outcome:
        """A hook without draft orders: read only what decides whether the scope's therapy is there; for a
        patient without it, answer no cards without reading anything else (labs, conditions...)."""
        today, terminology = self.today(), pack.terminology
        fetcher = self.fetcher_factory(call)
        templates = engine.templates_of(pack, scope.therapy_needs)
        first = await gather(call, templates, fetcher)
        record = build_record(call.patient_id, first.resources, [], today, terminology, first.unavailable,
                              history_days=pack.history_days, dropped=first.dropped,
                              deadline=_reading_deadline(first), keys_by_type=_keys_by_type(templates))
        check = engine.therapy_check(pack, scope, record)
        if check is None:
            return Outcome(call, spec, None)
        rest = [key for key in check.prefetch_keys if key not in scope.therapy_needs]
        if rest:
            templates = engine.templates_of(pack, [*scope.therapy_needs, *rest])
            try:
                more = await gather(call, engine.templates_of(pack, rest), fetcher)
            except PreconditionFailed as err:
                supplied = call.prefetch if isinstance(call.prefetch, dict) else {}
                if fetcher is None and any(key not in supplied for key in rest):
                    raise  # the client sent neither the advertised prefetch nor FHIR access: 412
                # the therapy is known, the rest failed: the checks report it (data-incomplete), never a 412
                more = Gathered(call.patient_id, unavailable=dict.fromkeys(rest, err.message))
            resources = merge(call.patient_id, [first.resources, more.resources])
            record = build_record(call.patient_id, resources, [], today, terminology,
                                  {**first.unavailable, **more.unavailable}, history_days=pack.history_days,
                                  dropped=[*first.dropped, *more.dropped],
                                  deadline=_reading_deadline(more) or _reading_deadline(first),
                                  keys_by_type=_keys_by_type(templates))
            check = engine.therapy_check(pack, scope, record) or check
        evaluation = engine.evaluate(pack, record, [check], call.patient_id, call.encounter_id)
        return self._outcome(call, spec, evaluation)

    def _outcome(self, call: HookCall, spec: ServiceSpec, evaluation: Evaluation) -> Outcome:
        shown, silent = self.split_silent(spec.id, render_all(evaluation.findings))
        return Outcome(call, spec, evaluation, tuple(shown), tuple(silent))

    def split_silent(self, service_id: str, rendered: list[RenderedCard]) -> tuple[list[RenderedCard],
                                                                                  list[RenderedCard]]:
        """(shown, silent) cards: silent mode (`CDS_SILENT_RULES`, `CDS_SILENT_SERVICES`) runs a rule as usual
        but keeps its card out of the response; decided on the finding's rule id."""
        if not self.settings.silent_rules and not self.settings.silent_services:
            return rendered, []
        shown: list[RenderedCard] = []
        silent: list[RenderedCard] = []
        for card in rendered:
            (silent if self.settings.is_silent(service_id, card.rule_id) else shown).append(card)
        return shown, silent
