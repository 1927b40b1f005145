"""One normalised, typed view of the patient, the only thing rules read.

Built once per call from whatever FHIR arrived (prefetch or FHIR server); every rule asks it questions in
clinical words (`record.current_opioids()`) instead of walking FHIR JSON itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cds_service.record.frozen import quick_init
from cds_service.terminology import Ingredient


@quick_init
@dataclass(frozen=True, slots=True)
class MedicationUse:
    """A medication the patient takes, took, or is being ordered now (a draft)."""

    ref: str  # "MedicationRequest/abc": what the card cites
    resource_type: str  # MedicationRequest | MedicationStatement | MedicationDispense | MedicationAdministration
    status: str
    display: str  # what the EHR called it (text / coding display)
    ingredients: tuple[Ingredient, ...]
    # how ingredients were recognised: "code" | "reference" | "text" | "none" | "unresolved" (a Medication reference
    # the request does not hold: `display` is then the reference)
    matched_by: str
    is_current: bool  # active / on-hold request, active / intended statement, dispense still covering today
    is_draft: bool  # one of this session's draft orders
    start: date | None = None  # earliest possible first day of exposure
    end: date | None = None  # latest possible last day of exposure when known (stopped/completed/expired supply)
    event: date | None = None  # latest possible day of the recorded act: ordered, handed over, taken, given
    date_note: str | None = None  # said on the card when a date the rules use was imprecise (partial date)
    daily_amount: float | None = None  # dose per day, in `daily_unit`
    daily_unit: str | None = None  # "mg" (dose given in mg) or "unit" (tablets, capsules, {pill}, mL...)
    route: str | None = None  # "oral" | "injection" | "nasal" | ... (from dose form / route)
    rxnorm_codes: tuple[str, ...] = ()
    product_classes: frozenset[str] = frozenset()  # e.g. {"cough-medicine"}, {"extended-release-injection"}
    raw: dict[str, Any] | None = field(default=None, compare=False, repr=False)  # the resource, for suggestions
    problems: tuple[str, ...] = ()  # a draft's elements that were out of range and not used (data-incomplete)

    def has(self, ingredient_class: str) -> bool:
        for i in self.ingredients:  # noqa: SIM110  # a loop, not any(): every rule asks it of every medicine (profiled)
            if ingredient_class in i.classes:
                return True
        return False

    @property
    def unresolved_reference(self) -> str | None:
        """The `medicationReference` that could not be read (so nothing is known of the medicine), or None."""
        return self.display if self.matched_by == "unresolved" else None

    def ingredient_names(self, ingredient_class: str | None = None) -> list[str]:
        return [i.name for i in self.ingredients if ingredient_class is None or ingredient_class in i.classes]

    def daily_mg(self, ingredient_name: str) -> float | None:
        """Daily mg of one ingredient: the dose in mg, or units per day x the product's strength."""
        if self.daily_amount is None:
            return None
        if self.daily_unit == "mg":
            return self.daily_amount
        for i in self.ingredients:
            if i.name == ingredient_name and i.strength_mg is not None:
                return self.daily_amount * i.strength_mg
        return None


@quick_init
@dataclass(frozen=True, slots=True)
class ConditionEntry:
    ref: str
    display: str
    codes: tuple[tuple[str, str], ...]  # (system, code)
    classes: frozenset[str]  # terminology classes, e.g. {"opioid-use-disorder"}
    clinical_status: str | None  # active | recurrence | relapse | inactive | remission | resolved | None
    verification_status: str | None
    onset: date | None = None
    recorded: date | None = None
    matched_by: str = "code"  # "code" (a recognised code, or a site ConceptMap entry) | "text" (a clinical term)

    @property
    def is_active(self) -> bool:
        return self.clinical_status in {"active", "recurrence", "relapse"}

    @property
    def is_history(self) -> bool:
        """Active or past: what 'history of' rules may use."""
        return self.clinical_status in {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}


@quick_init
@dataclass(frozen=True, slots=True)
class LabResult:
    ref: str
    display: str
    code: str  # LOINC code
    classes: frozenset[str]  # e.g. {"alt"}, {"urine-opioid-screen"}, {"urine-naltrexone"}
    status: str
    when: date | None  # the latest day the result may be from (partial dates: the end of their span)
    value: float | None = None  # numeric value converted to `unit`
    unit: str | None = None  # canonical unit after conversion ("U/L" for enzymes)
    original: str | None = None  # the value as reported ("1.2 µkat/L", "Positive")
    uln: float | None = None  # upper limit of normal in `unit`
    uln_source: str | None = None  # "referenceRange" | "default"
    reference_text: str | None = None  # "7-40 U/L" as shown to the clinician
    positive: bool | None = None  # qualitative result: True/False/None (unknown)
    earliest: date | None = None  # the earliest day the result may be from (== when unless the date was partial)
    date_note: str | None = None  # said on the card when the date was imprecise

    @property
    def first_day(self) -> date | None:
        """The earliest day the result may be from: what a reassuring (negative) result is dated by."""
        return self.earliest or self.when


@quick_init
@dataclass(frozen=True, slots=True)
class AllergyEntry:
    ref: str
    display: str
    ingredients: tuple[Ingredient, ...]
    clinical_status: str | None
    verification_status: str | None

    @property
    def is_active(self) -> bool:
        return self.clinical_status in {None, "active"} and self.verification_status not in {
            "refuted",
            "entered-in-error",
        }


@dataclass(slots=True)
class SkipGroup:
    resource_type: str
    reason: str
    count: int = 0
    first_refs: list[str] = field(default_factory=list)


class SkippedResources:
    """Resources left out of the record (unreadable, or another patient's), summarised by type and reason.

    A hostile or broken source can send 100,000 unreadable results: the card and the log must not grow with
    them. So this keeps counts per (type, reason) and the first few references of each, and at most
    `MAX_GROUPS` distinct reasons (the rest are counted under "other reasons").
    """

    FIRST_REFS = 3
    MAX_GROUPS = 12
    MAX_REASON = 120
    OTHER = "other reasons"

    __slots__ = ("_groups", "total")

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], SkipGroup] = {}
        self.total = 0

    def add(self, ref: str, reason: str) -> None:
        """`ref` "Type/id" (or a bare type); `reason` a short sentence without the ref."""
        rtype = ref.split("/", 1)[0][:64] or "resource"
        reason = reason[: self.MAX_REASON]
        key = (rtype, reason)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= self.MAX_GROUPS:
                key = (rtype, self.OTHER)
                group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = SkipGroup(*key)
        group.count += 1
        self.total += 1
        if len(group.first_refs) < self.FIRST_REFS:
            group.first_refs.append(ref[:140])

    def groups(self) -> list[SkipGroup]:
        return list(self._groups.values())

    def refs(self) -> list[str]:
        """Every reference kept (the first few of each group)."""
        return [r for g in self._groups.values() for r in g.first_refs]

    def log_summary(self) -> str:
        """One line for the log: "Observation x25000 (no readable effective date: Observation/a, ...)"."""
        return "; ".join(f"{g.resource_type} x{g.count} ({g.reason}: {', '.join(g.first_refs)})"
                         for g in self._groups.values())

    def __len__(self) -> int:
        return self.total

    def __bool__(self) -> bool:
        return self.total > 0


@dataclass(slots=True)
class PatientRecord:
    """The patient as the rules see it, on `today`."""

    patient_id: str
    today: date
    birth_date: date | None = None
    medications: list[MedicationUse] = field(default_factory=list)  # on record (not this session's drafts)
    drafts: list[MedicationUse] = field(default_factory=list)  # every draft order of the session
    conditions: list[ConditionEntry] = field(default_factory=list)
    labs: list[LabResult] = field(default_factory=list)
    allergies: list[AllergyEntry] = field(default_factory=list)
    # data the service could not obtain: prefetch key (e.g. "urineDrugScreens") -> why
    unavailable: dict[str, str] = field(default_factory=dict)
    # resources left out (unreadable, another patient's, a draft's unusable element), for data-incomplete
    skipped_resources: SkippedResources = field(default_factory=SkippedResources)
    # draft orders whose medication could not be identified -> why (the order could not be checked)
    unresolved_orders: dict[str, str] = field(default_factory=dict)

    # --- who -------------------------------------------------------------------------------------
    @property
    def age_years(self) -> int | None:
        if self.birth_date is None:
            return None
        b, t = self.birth_date, self.today
        return t.year - b.year - ((t.month, t.day) < (b.month, b.day))

    # --- medications -----------------------------------------------------------------------------
    def current_medications_with(self, ingredient_class: str) -> list[MedicationUse]:
        return [m for m in self.medications if m.is_current and m.has(ingredient_class)]

    def draft_medications_with(self, ingredient_class: str, exclude: str | None = None) -> list[MedicationUse]:
        return [m for m in self.drafts if m.has(ingredient_class) and m.ref != exclude]

    def current_opioids(self) -> list[MedicationUse]:
        return self.current_medications_with("opioid")

    def exposures_ended_within(self, ingredient_class: str, days: int) -> list[MedicationUse]:
        """Past (not current) uses whose exposure ended within `days` before today."""
        since = self.today - timedelta(days=days)
        return [
            m
            for m in self.medications
            if not m.is_current and m.has(ingredient_class) and m.end is not None and m.end >= since
        ]

    # --- conditions ------------------------------------------------------------------------------
    def active_conditions(self, condition_class: str) -> list[ConditionEntry]:
        return [c for c in self.conditions if c.is_active and condition_class in c.classes]

    def conditions_in_history(self, condition_class: str) -> list[ConditionEntry]:
        return [c for c in self.conditions if c.is_history and condition_class in c.classes]

    # --- labs ------------------------------------------------------------------------------------
    def labs_within(self, lab_class: str, days: int) -> list[LabResult]:
        """Results of that class within `days` before today, newest first."""
        since = self.today - timedelta(days=days)
        found = [lab for lab in self.labs if lab_class in lab.classes and lab.when is not None and lab.when >= since]
        return sorted(found, key=lambda lab: lab.when or date.min, reverse=True)

    def latest_lab(self, lab_class: str, days: int) -> LabResult | None:
        found = self.labs_within(lab_class, days)
        return found[0] if found else None

