"""Override analytics results and their renderings (`python -m cds_service report [--json]`).

Pure functions: no database access here (see `Store.analytics` for the SQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict

NON_ADHERENCE_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"


@dataclass(frozen=True)
class ReasonCount:
    """How often one override reason was given for a rule's cards."""

    code: str
    display: str | None  # looked up from the reasons the card was issued with (None: not one we offered)
    count: int
    system: str | None = None
    non_adherence: tuple[str, str] | None = None  # the HL7 non-adherence reason (code, display) it stands for


@dataclass(frozen=True)
class SuggestionStats:
    """Acceptance of one suggestion label of a rule: issued on `issued` cards, accepted `accepted` times."""

    label: str
    issued: int
    accepted: int

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.issued if self.issued else None


def per_100(count: int, calls: int) -> float | None:
    """Cards per 100 hook calls (None without calls: no rate can be given)."""
    return round(100 * count / calls, 2) if calls else None


@dataclass(frozen=True)
class DailyStats:
    """One rule on one UTC day: cards shown (`issued`) that day and how many of them were accepted /
    overridden, cards kept silent (silent mode), and the hook calls of that day that reached the rules."""

    rule_id: str
    day: date
    issued: int
    accepted: int
    overridden: int
    silent: int = 0
    hook_calls: int = 0

    @property
    def override_rate(self) -> float | None:
        answered = self.accepted + self.overridden
        return self.overridden / answered if answered else None

    @property
    def shown_per_100_calls(self) -> float | None:
        return per_100(self.issued, self.hook_calls)

    @property
    def silent_per_100_calls(self) -> float | None:
        return per_100(self.silent, self.hook_calls)


@dataclass(frozen=True)
class RuleStats:
    """Override analytics of one rule over the cards it issued in the requested period.

    `accepted` / `overridden` count cards (not feedback events) by their latest feedback's outcome;
    `override_rate` = overridden / (accepted + overridden), None when no card of the rule got feedback.
    `override_reasons`: most frequent first, as (code, display, count) via `top_reasons`.
    `issued` counts the cards shown; `silent` the cards of silent mode (computed, remembered, not shown);
    `hook_calls` every hook call that reached the rules in the period (all rules share it); `daily` per day.
    """

    rule_id: str
    issued: int
    accepted: int
    overridden: int
    override_reasons: tuple[ReasonCount, ...] = ()
    suggestions: tuple[SuggestionStats, ...] = ()
    # cards overridden per HL7 non-adherence reason code (code, display, cards), most frequent first
    non_adherence: tuple[tuple[str, str, int], ...] = ()
    silent: int = 0
    hook_calls: int = 0
    daily: tuple[DailyStats, ...] = ()

    @property
    def shown_per_100_calls(self) -> float | None:
        return per_100(self.issued, self.hook_calls)

    @property
    def silent_per_100_calls(self) -> float | None:
        return per_100(self.silent, self.hook_calls)

    @property
    def override_rate(self) -> float | None:
        answered = self.accepted + self.overridden
        return self.overridden / answered if answered else None

    @property
    def top_reasons(self) -> list[tuple[str, str | None, int]]:
        return [(r.code, r.display, r.count) for r in self.override_reasons]

    @property
    def suggestion_acceptance(self) -> list[tuple[str, int, int]]:
        return [(s.label, s.issued, s.accepted) for s in self.suggestions]


def _day_json(d: DailyStats) -> dict[str, Any]:
    return {"day": d.day.isoformat(), "issued": d.issued, "accepted": d.accepted, "overridden": d.overridden,
            "override_rate": d.override_rate, "silent": d.silent, "hook_calls": d.hook_calls,
            "shown_per_100_calls": d.shown_per_100_calls, "silent_per_100_calls": d.silent_per_100_calls}


def daily_json(days: Sequence[DailyStats]) -> list[dict[str, Any]]:
    """JSON-ready form of `Store.daily` (the dashboard's override rate over time, silent next to shown)."""
    return [{"rule_id": d.rule_id, **_day_json(d)} for d in days]


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_report(stats: Sequence[RuleStats], *, max_reasons: int = 5) -> str:
    """A readable fixed-width table: one line per rule, then its top override reasons and suggestions."""
    if not stats:
        return "No cards issued in this period.\n"
    rule_w = max(24, *(len(s.rule_id) for s in stats))
    rule_w = min(rule_w, 60)
    header = (f"{'Rule':<{rule_w}}  {'Issued':>8}  {'Accepted':>8}  {'Overridden':>10}  {'Override rate':>13}"
              f"  {'Silent':>8}  {'Shown/100 calls':>15}  {'Silent/100 calls':>16}")
    lines = [header, "-" * len(header)]
    totals = [0, 0, 0, 0]
    for s in stats:
        totals[0] += s.issued
        totals[1] += s.accepted
        totals[2] += s.overridden
        totals[3] += s.silent
        lines.append(
            f"{_clip(s.rule_id, rule_w):<{rule_w}}  {s.issued:>8}  {s.accepted:>8}  {s.overridden:>10}  "
            f"{_pct(s.override_rate):>13}  {s.silent:>8}  {_rate(s.shown_per_100_calls):>15}  "
            f"{_rate(s.silent_per_100_calls):>16}"
        )
        if s.silent and s.daily:
            lines.append("    per day (shown / silent / hook calls):")
            for d in s.daily:
                lines.append(f"      {d.day.isoformat()}  {d.issued:>6} / {d.silent:<6} / {d.hook_calls}")
        if s.override_reasons:
            lines.append("    override reasons:")
            for r in s.override_reasons[:max_reasons]:
                name = r.code if r.display is None else f"{r.code} ({r.display})"
                lines.append(f"      {r.count:>6}  {_clip(name, 80)}")
            if len(s.override_reasons) > max_reasons:
                lines.append(f"      ... {len(s.override_reasons) - max_reasons} more")
        if s.non_adherence:
            lines.append("    HL7 non-adherence reasons:")
            for code, disp, n in s.non_adherence:
                lines.append(f"      {n:>6}  {_clip(f'{code} ({disp})', 80)}")
        if s.suggestions:
            lines.append("    suggestions (accepted / issued):")
            for sg in s.suggestions:
                rate = _pct(sg.acceptance_rate)
                lines.append(f"      {sg.accepted:>6} / {sg.issued:<6} {rate:>6}  {_clip(sg.label, 70)}")
    lines.append("-" * len(header))
    answered = totals[1] + totals[2]
    calls = stats[0].hook_calls
    lines.append(
        f"{'Total':<{rule_w}}  {totals[0]:>8}  {totals[1]:>8}  {totals[2]:>10}  "
        f"{_pct(totals[2] / answered if answered else None):>13}  {totals[3]:>8}  "
        f"{_rate(per_100(totals[0], calls)):>15}  {_rate(per_100(totals[3], calls)):>16}"
    )
    lines.append(f"Hook calls that reached the rules: {calls}")
    return "\n".join(lines) + "\n"


def report_json(stats: Sequence[RuleStats]) -> list[dict[str, Any]]:
    """JSON-ready form of the analytics (for `report --json` and the admin API)."""
    return [
        {
            "rule_id": s.rule_id,
            "issued": s.issued,
            "accepted": s.accepted,
            "overridden": s.overridden,
            "override_rate": s.override_rate,
            "silent": s.silent,
            "hook_calls": s.hook_calls,
            "shown_per_100_calls": s.shown_per_100_calls,
            "silent_per_100_calls": s.silent_per_100_calls,
            "daily": [_day_json(d) for d in s.daily],
            "override_reasons": [
                {"system": r.system, "code": r.code, "display": r.display, "count": r.count,
                 "non_adherence": None if r.non_adherence is None else
                 {"system": NON_ADHERENCE_SYSTEM, "code": r.non_adherence[0], "display": r.non_adherence[1]}}
                for r in s.override_reasons
            ],
            "non_adherence_reasons": [
                {"system": NON_ADHERENCE_SYSTEM, "code": code, "display": disp, "count": n}
                for code, disp, n in s.non_adherence
            ],
            "suggestions": [
                {
                    "label": sg.label,
                    "issued": sg.issued,
                    "accepted": sg.accepted,
                    "acceptance_rate": sg.acceptance_rate,
                }
                for sg in s.suggestions
            ],
        }
        for s in stats
    ]


# --- the JSON form's schema (the analytics endpoint's documented 200) ------------------------------

class NonAdherenceCodingModel(BaseModel):
    model_config = ConfigDict(extra="forbid", title="NonAdherenceReason")
    system: str
    code: str
    display: str


class ReasonCountModel(BaseModel):
    model_config = ConfigDict(extra="forbid", title="OverrideReasonCount")
    system: str | None
    code: str
    display: str | None
    count: int
    non_adherence: NonAdherenceCodingModel | None


class NonAdherenceCountModel(BaseModel):
    model_config = ConfigDict(extra="forbid", title="NonAdherenceReasonCount")
    system: str
    code: str
    display: str
    count: int


class SuggestionStatsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", title="SuggestionStats")
    label: str
    issued: int
    accepted: int
    acceptance_rate: float | None


class DayModel(BaseModel):
    model_config = ConfigDict(extra="forbid", title="DayStats")
    day: date
    issued: int
    accepted: int
    overridden: int
    override_rate: float | None
    silent: int
    hook_calls: int
    shown_per_100_calls: float | None
    silent_per_100_calls: float | None


class RuleReportModel(BaseModel):
    model_config = ConfigDict(extra="forbid", title="RuleReport")
    rule_id: str
    issued: int
    accepted: int
    overridden: int
    override_rate: float | None
    silent: int
    hook_calls: int
    shown_per_100_calls: float | None
    silent_per_100_calls: float | None
    daily: list[DayModel]
    override_reasons: list[ReasonCountModel]
    non_adherence_reasons: list[NonAdherenceCountModel]
    suggestions: list[SuggestionStatsModel]


class HookCallsDayModel(BaseModel):
    model_config = ConfigDict(extra="forbid", title="HookCallsPerDay")
    day: date
    hook_calls: int


class AnalyticsResponse(BaseModel):
    """`GET /analytics/rules`: one entry per rule id with cards in the period (`report_json`)."""

    model_config = ConfigDict(extra="forbid")
    rules: list[RuleReportModel]
    hook_calls: int  # hook calls of the period that reached the rules (the denominator of the per-100 rates)
    hook_calls_per_day: list[HookCallsDayModel]


class DailyRuleModel(DayModel):
    model_config = ConfigDict(extra="forbid", title="DailyRuleStats")
    rule_id: str


class DailyResponse(BaseModel):
    """`GET /analytics/rules/daily`: one entry per rule and UTC day with cards (`daily_json`)."""

    model_config = ConfigDict(extra="forbid")
    days: list[DailyRuleModel]
