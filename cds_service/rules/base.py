"""What a rule pack is, and what rules return: findings, not cards and not HTTP.

A rule is a pure function `(RuleContext) -> Finding | None` with a declaration (`@rule`): its scope (which
orders, or which patient-level hook), the prefetch keys it reads (`needs`) and those without which it must stay
silent (`requires`). A pack bundles one drug's (or drug class's) services, prefetch templates, typed config,
terminology, scopes and rules. The engine (`rules.engine`) derives everything else from these declarations:
the prefetch keys of a call, which rules are silent for lack of data, which checks data-incomplete names, and
the docs tables. The HTTP layer and the card renderer know only these types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic_settings import BaseSettings

from cds_service.hooks.prefetch import PrefetchTemplate
from cds_service.record.frozen import quick_init
from cds_service.record.model import MedicationUse, PatientRecord
from cds_service.terminology import Terminology

Indicator = Literal["info", "warning", "critical"]
SEVERITY = {"info": 0, "warning": 1, "critical": 2}


@quick_init  # built for every card, by the dozen a call (profiled)
@dataclass(frozen=True, slots=True)
class ActionSpec:
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resource_id: str | None = None


@quick_init
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


@quick_init
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
    # prefetch key -> ids of this check's rules that read it (derived by the engine from the rules' `needs`)
    readers: dict[str, tuple[str, ...]] = field(default_factory=dict)


RuleFunction = Callable[[RuleContext[Any]], "Finding | None"]


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What a rule declares about itself: its public description (the docs table) and its contract with the
    engine: what it applies to, the data it reads and the data without which it must stay silent."""

    id: str
    title: str
    indicators: tuple[str, ...]
    trigger: str
    suggestions: str
    source: str
    applies_to: tuple[str, ...]  # ids of the pack's scopes (kinds of order, or a patient-level hook)
    needs: tuple[str, ...] = ()  # prefetch keys the rule reads (the engine gathers them; data-incomplete names it)
    # prefetch keys whose absence makes its silence meaningless (it concludes from the absence of something):
    # when one could not be obtained, the engine does not run the rule and data-incomplete reports it
    requires: tuple[str, ...] = ()
    thresholds: tuple[str, ...] = ()  # names of the pack's config fields the rule reads


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule function with its declaration; calling it runs the function."""

    info: RuleInfo
    fn: RuleFunction

    def __call__(self, ctx: RuleContext[Any]) -> Finding | None:
        return self.fn(ctx)


def rule(*, id: str, title: str, indicators: tuple[str, ...], trigger: str, suggestions: str, source: str,
         applies_to: tuple[str, ...], needs: tuple[str, ...] = (), requires: tuple[str, ...] = (),
         thresholds: tuple[str, ...] = ()) -> Callable[[RuleFunction], Rule]:
    """Declare a rule (its id is a public contract): what it applies to and what data it needs."""
    missing = [key for key in requires if key not in needs]
    if missing:
        raise ValueError(f"rule {id}: requires {missing} but does not declare it in needs")

    def mark(fn: RuleFunction) -> Rule:
        return Rule(RuleInfo(id, title, indicators, trigger, suggestions, source, applies_to, needs, requires,
                             thresholds), fn)

    return mark


def rule_info(fn: Rule) -> RuleInfo:
    return fn.info


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    id: str
    hook: str
    title: str
    description: str
    usage_requirements: str | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """What a group of rules is about, in one or more hooks.

    An order scope (`orders` set) picks the draft orders it checks, from the orders alone (an unrelated order
    never touches the prefetch). A patient scope (`therapy` set; hooks without draftOrders, e.g. patient-view)
    finds the therapy the checks are about in the record, from the keys in `therapy_needs` only: nothing else
    is read for a patient without it. When nothing read shows the therapy but not all of it could be read (a
    key of `therapy_needs` failed, or one of its records was unreadable), the rules of the scope named in
    `unchecked` run instead (a scope of its own, with neither `orders` nor `therapy`): a patient whose therapy
    could not be checked is never answered as if it had been. The first scope that matches an order wins.
    """

    id: str
    label: str  # how the docs table names it ("naltrexone orders")
    hooks: tuple[str, ...]
    orders: Callable[[MedicationUse], bool] | None = None
    therapy: Callable[[PatientRecord], list[MedicationUse]] | None = None
    therapy_needs: tuple[str, ...] = ()
    unchecked: str | None = None  # id of the scope whose rules say the therapy could not be checked


@dataclass(frozen=True, slots=True)
class OrderCheck:
    """What one check runs on (a draft order, or a patient scope's therapy), the rules and the data they read."""

    order: MedicationUse
    rules: tuple[Rule, ...]
    prefetch_keys: tuple[str, ...]
    scope: str = ""


class RulePack(Protocol):
    """Everything the engine needs from a pack; a new drug is a new pack module, registered in `registry`."""

    @property
    def id(self) -> str: ...
    @property
    def source_label(self) -> str: ...
    @property
    def services(self) -> tuple[ServiceSpec, ...]: ...
    @property
    def prefetch(self) -> tuple[PrefetchTemplate, ...]: ...  # every key the pack's rules may need
    @property
    def scopes(self) -> tuple[Scope, ...]: ...
    @property
    def rules(self) -> tuple[Rule, ...]: ...  # in running order (a rule reporting on the others runs last)
    @property
    def config(self) -> BaseSettings: ...  # typed thresholds (site policy); the docs read its fields
    @property
    def terminology(self) -> Terminology: ...
    @property
    def history_days(self) -> int | None: ...  # labs and past medication use older than this are not read


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule that raised on one order (logged with its traceback; reported on that order's data-incomplete)."""

    order_ref: str
    rule_id: str


@dataclass(slots=True)
class Evaluation:
    findings: list[Finding] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
