"""What a rule pack is, and what rules return: findings, not cards and not HTTP.

A rule is a pure function `(RuleContext) -> Finding | None`. A pack bundles the rules of one drug (or drug
class), the hook services it offers, the data it needs, and which draft orders it looks at. The HTTP layer
and the card renderer know only these types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from cds_service.hooks.prefetch import PrefetchTemplate
from cds_service.record.model import MedicationUse, PatientRecord

Indicator = Literal["info", "warning", "critical"]
SEVERITY = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class ActionSpec:
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resource_id: str | None = None


@dataclass(frozen=True, slots=True)
class SuggestionSpec:
    label: str
    actions: tuple[ActionSpec, ...] = ()
    recommended: bool = False


@dataclass(frozen=True, slots=True)
class OverrideReasonSpec:
    code: str
    display: str
    system: str = "urn:cds-naltrexone:override-reason"


@dataclass(frozen=True, slots=True)
class LinkSpec:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict about one draft order, with everything the card must show."""

    rule_id: str
    title: str
    indicator: Indicator
    summary: str  # < 140 characters; names the problem and the drug
    detail: str  # GitHub-flavoured markdown: why, the evidence, the source
    order_ref: str  # the draft order it is about ("MedicationRequest/x")
    evidence: tuple[str, ...] = ()  # references cited in the detail
    suggestions: tuple[SuggestionSpec, ...] = ()
    override_reasons: tuple[OverrideReasonSpec, ...] = ()
    links: tuple[LinkSpec, ...] = ()
    source_label: str = ""
    source_url: str | None = None


ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True, slots=True)
class RuleContext(Generic[ConfigT]):
    """What one rule sees for one checked order. `config` is the pack's own typed config class, so a misspelt
    threshold is a type error (mypy), not a run-time AttributeError."""

    record: PatientRecord
    order: MedicationUse  # the draft order being checked
    patient_id: str
    encounter_id: str | None
    config: ConfigT  # the pack's thresholds
    # rules that crashed on THIS order (the engine appends; data-incomplete, run last, reports them): scoped to
    # the order, so one order's failure never shows on another order's card
    failed: list[str] = field(default_factory=list)


Rule = Callable[[RuleContext[Any]], "Finding | None"]


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What the generated rules table (docs/rules.md) says about a rule."""

    id: str
    title: str
    indicators: tuple[str, ...]
    trigger: str
    suggestions: str
    source: str
    thresholds: tuple[str, ...] = ()  # names of the pack's config fields the rule reads


def rule(*, id: str, title: str, indicators: tuple[str, ...], trigger: str, suggestions: str, source: str,
         thresholds: tuple[str, ...] = ()) -> Callable[[Rule], Rule]:
    """Attach a rule's public description (its id is a public contract) to the rule function."""

    def mark(fn: Rule) -> Rule:
        fn.info = RuleInfo(id, title, indicators, trigger, suggestions, source, thresholds)  # type: ignore[attr-defined]
        return fn

    return mark


def rule_info(fn: Rule) -> RuleInfo:
    return fn.info  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    id: str
    hook: str
    title: str
    description: str
    usage_requirements: str | None = None


@dataclass(frozen=True, slots=True)
class OrderCheck:
    """A draft order a pack wants to check, the rules to run on it and the data those rules read."""

    order: MedicationUse
    rules: tuple[Rule, ...]
    prefetch_keys: tuple[str, ...]


class RulePack(Protocol):
    id: str
    services: tuple[ServiceSpec, ...]
    prefetch: tuple[PrefetchTemplate, ...]
    source_label: str
    history_days: int | None  # records (labs, past medication use) older than this are never read (None: all)

    def checks(self, orders: Sequence[MedicationUse]) -> list[OrderCheck]:
        """Which of the (selected) draft orders this pack checks, decided from the orders alone."""
        ...

    def context(self, record: PatientRecord, order: MedicationUse, patient_id: str,
                encounter_id: str | None) -> RuleContext: ...


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule that raised on one order (logged with its traceback; reported on that order's data-incomplete)."""

    order_ref: str
    rule_id: str


@dataclass(slots=True)
class Evaluation:
    findings: list[Finding] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)


def evaluate(pack: RulePack, record: PatientRecord, checks: Sequence[OrderCheck], patient_id: str,
             encounter_id: str | None) -> Evaluation:
    """Run every rule on every checked order; one finding per rule per order (the most severe)."""
    import logging

    log = logging.getLogger(__name__)
    result = Evaluation()
    for check in checks:
        ctx = pack.context(record, check.order, patient_id, encounter_id)
        best: dict[str, Finding] = {}
        for rule in check.rules:
            try:
                finding = rule(ctx)
            except Exception:  # a bug in one rule must not hide the others' findings
                info = getattr(rule, "info", None)
                name = info.id if info else getattr(rule, "__name__", "rule")
                log.exception("rule %s failed on %s", name, check.order.ref)
                result.errors.append(RuleError(check.order.ref, name))
                if name not in ctx.failed:
                    ctx.failed.append(name)
                continue
            if finding is None:
                continue
            kept = best.get(finding.rule_id)
            if kept is None or SEVERITY[finding.indicator] > SEVERITY[kept.indicator]:
                best[finding.rule_id] = finding
        result.findings.extend(best.values())
    return result
