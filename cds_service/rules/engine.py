"""The rule engine: what a call checks, the data it needs, and running the rules, all derived from the pack's
declarations (scopes, and each rule's `applies_to` / `needs` / `requires`), never from a pack's module names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from cds_service.fhir.read import OTHER_PATIENT
from cds_service.hooks.prefetch import PrefetchTemplate
from cds_service.record.model import MedicationUse, PatientRecord
from cds_service.rules.base import SEVERITY, Evaluation, Finding, OrderCheck, Rule, RuleContext, RuleError, RulePack
from cds_service.rules.base import Scope as Scope

log = logging.getLogger(__name__)


def rules_of(pack: RulePack, scope_id: str) -> tuple[Rule, ...]:
    """The pack's rules that apply to a scope, in the pack's running order."""
    return tuple(r for r in pack.rules if scope_id in r.info.applies_to)


def keys_of(pack: RulePack, rules: Iterable[Rule], *extra: str) -> tuple[str, ...]:
    """The prefetch keys these rules read, in the order of the pack's templates."""
    wanted = {key for r in rules for key in r.info.needs} | set(extra)
    return tuple(t.key for t in pack.prefetch if t.key in wanted)


def templates_of(pack: RulePack, keys: Iterable[str]) -> list[PrefetchTemplate]:
    wanted = set(keys)
    return [t for t in pack.prefetch if t.key in wanted]


def service_keys(pack: RulePack, hook: str) -> tuple[str, ...]:
    """Every key a call of this hook may need: what discovery advertises as the service's prefetch."""
    rules: list[Rule] = []
    extra: list[str] = []
    for scope in pack.scopes:
        if hook in scope.hooks:
            rules += rules_of(pack, scope.id)
            extra += scope.therapy_needs
    return keys_of(pack, rules, *extra)


def patient_scope(pack: RulePack, hook: str) -> Scope | None:
    """The pack's patient-level scope for this hook (hooks without draftOrders), if it has one."""
    return next((s for s in pack.scopes if hook in s.hooks and s.therapy is not None), None)


def order_checks(pack: RulePack, hook: str, orders: Sequence[MedicationUse]) -> list[OrderCheck]:
    """Which of the (selected) draft orders the pack checks, decided from the orders alone: the first order
    scope of this hook that takes an order wins."""
    scopes = [s for s in pack.scopes if hook in s.hooks and s.orders is not None]
    out = []
    for order in orders:
        scope = next((s for s in scopes if s.orders is not None and s.orders(order)), None)
        if scope is None:
            continue
        rules = rules_of(pack, scope.id)
        if rules:
            out.append(OrderCheck(order, rules, keys_of(pack, rules), scope.id))
    return out


def therapy_check(pack: RulePack, scope: Scope, record: PatientRecord) -> OrderCheck | None:
    """A patient scope's check: on the first therapy it finds in the record; when it finds none but could not
    read everything that would show it, the check of the scope's `unchecked` rules (about the patient, not a
    therapy); otherwise None (nothing to say)."""
    therapy = scope.therapy(record) if scope.therapy is not None else []
    if therapy:
        rules = rules_of(pack, scope.id)
        return OrderCheck(therapy[0], rules, keys_of(pack, rules, *scope.therapy_needs), scope.id)
    if scope.unchecked is None or not therapy_unread(pack, scope, record):
        return None
    rules = rules_of(pack, scope.unchecked)
    if not rules:
        return None
    return OrderCheck(_the_patient(record), rules, keys_of(pack, rules, *scope.therapy_needs),
                      scope.unchecked)


def therapy_unread(pack: RulePack, scope: Scope, record: PatientRecord) -> bool:
    """Part of what decides the scope's therapy could not be read: a key of `therapy_needs` could not be
    obtained, or a record of the types they bring was unreadable (another patient's records do not count)."""
    if any(key in record.unavailable for key in scope.therapy_needs):
        return True
    types = {rtype for t in templates_of(pack, scope.therapy_needs) for rtype in t.resource_types}
    return any(g.resource_type in types and g.reason != OTHER_PATIENT for g in record.skipped_resources.groups())


def _the_patient(record: PatientRecord) -> MedicationUse:
    """What an `unchecked` check is about: the patient, since no therapy record is known (`ref` is the Patient
    its cards are about)."""
    return MedicationUse(ref=f"Patient/{record.patient_id}", resource_type="Patient", status="unknown",
                         display="the patient", ingredients=(), matched_by="none", is_current=False,
                         is_draft=False)


def readers(rules: Sequence[Rule]) -> dict[str, tuple[str, ...]]:
    """prefetch key -> ids of the rules that read it (each id once, in running order)."""
    out: dict[str, list[str]] = {}
    for r in rules:
        for key in r.info.needs:
            ids = out.setdefault(key, [])
            if r.info.id not in ids:
                ids.append(r.info.id)
    return {key: tuple(ids) for key, ids in out.items()}


def evaluate(pack: RulePack, record: PatientRecord, checks: Sequence[OrderCheck], patient_id: str,
             encounter_id: str | None) -> Evaluation:
    """Run every rule on every check; one finding per rule per order (the most severe).

    A rule whose `requires` data could not be obtained is not run (its silence would read as "all clear");
    data-incomplete, which reads `ctx.readers`, names it. A rule that raises is logged and reported on its own
    order only (`ctx.failed`); the other rules still run.
    """
    result = Evaluation()
    for check in checks:
        ctx: RuleContext[object] = RuleContext(record=record, order=check.order, patient_id=patient_id,
                                               encounter_id=encounter_id, config=pack.config,
                                               readers=readers(check.rules))
        best: dict[str, Finding] = {}
        unavailable = record.unavailable
        for r in check.rules:
            if unavailable and any(key in unavailable for key in r.info.requires):
                continue
            try:
                finding = r(ctx)
            except Exception:  # a bug in one rule must not hide the others' findings
                log.exception("rule %s failed on %s", r.info.id, check.order.ref)
                result.errors.append(RuleError(check.order.ref, r.info.id))
                if r.info.id not in ctx.failed:
                    ctx.failed.append(r.info.id)
                continue
            if finding is None:
                continue
            kept = best.get(finding.rule_id)
            if kept is None or SEVERITY[finding.indicator] > SEVERITY[kept.indicator]:
                best[finding.rule_id] = finding
        result.findings.extend(best.values())
    return result
