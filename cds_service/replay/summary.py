"""What a replay found, summed up as the orders stream by: the numbers a CDS committee asks for.

Counters only (per rule, indicator, month, data category): memory grows with the number of rules and months,
and with the list of orders that got no card, never with the export.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cds_service.replay.evaluate import OrderReplay
from cds_service.replay.export import LineError

MAX_LISTED_ERRORS = 200  # malformed lines listed one by one in the summary (all are counted)


@dataclass(slots=True)
class ReplaySummary:
    engine: str
    patients_in_export: int = 0
    patients_with_orders: int = 0
    orders: int = 0
    orders_refused: list[dict[str, str]] = field(default_factory=list)
    orders_without_cards: list[str] = field(default_factory=list)
    cards: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, indicator)
    orders_per_month: Counter[str] = field(default_factory=Counter)
    cards_per_month: Counter[tuple[str, str]] = field(default_factory=Counter)  # (month, rule)
    orders_with_rule: Counter[str] = field(default_factory=Counter)  # orders with >= 1 card of the rule
    patterns: Counter[str] = field(default_factory=Counter)  # the rules that fired together on one order
    evidence: Counter[str] = field(default_factory=Counter)  # "rule: cited resource types"
    unavailable: Counter[str] = field(default_factory=Counter)  # category -> orders (no file in the export)
    empty: Counter[str] = field(default_factory=Counter)  # category -> orders whose record had none of it
    left_out: int = 0
    malformed: int = 0
    malformed_lines: list[str] = field(default_factory=list)
    lines_read: int = 0
    seconds: float = 0.0
    files: list[dict[str, Any]] = field(default_factory=list)
    on_error: Callable[[LineError], None] | None = None  # told of every malformed line (the CLI prints them)

    def add_order(self, order: OrderReplay) -> None:
        self.orders += 1
        self.orders_per_month[order.month] += 1
        self.left_out += order.left_out
        for category in order.unavailable:
            self.unavailable[category] += 1
        for category in order.empty:
            self.empty[category] += 1
        if order.error is not None:
            self.orders_refused.append({"order": order.order, "error": order.error})
            return
        if not order.cards:
            self.orders_without_cards.append(order.order)
            self.patterns["(no card)"] += 1
            return
        rules = sorted({c.rule for c in order.cards})
        for card in order.cards:
            self.cards[(card.rule, card.indicator)] += 1
            self.cards_per_month[(order.month, card.rule)] += 1
        for rule in rules:
            self.orders_with_rule[rule] += 1
        self.patterns[" + ".join(f"{c.rule} ({c.indicator})" for c in sorted(order.cards, key=lambda c: c.rule))] += 1
        for item in order.evidence:
            self.evidence[item] += 1

    def add_error(self, error: LineError) -> None:
        self.malformed += 1
        if self.on_error is not None:
            self.on_error(error)
        if len(self.malformed_lines) < MAX_LISTED_ERRORS:
            self.malformed_lines.append(str(error))

    def as_json(self) -> dict[str, Any]:
        orders = self.orders
        per_100 = (lambda n: round(100 * n / orders, 2)) if orders else (lambda n: None)
        rules = sorted({rule for rule, _i in self.cards})
        months = sorted(self.orders_per_month)
        return {
            "engine": self.engine,
            "seconds": round(self.seconds, 3),
            "patients_in_export": self.patients_in_export,
            "patients_with_orders": self.patients_with_orders,
            "orders_replayed": orders,
            "orders_refused": sorted(self.orders_refused, key=lambda o: o["order"]),
            "orders_without_cards": sorted(self.orders_without_cards),
            "cards": sum(self.cards.values()),
            "cards_per_rule": {
                rule: {"cards": sum(n for (r, _i), n in self.cards.items() if r == rule),
                       "per_100_orders": per_100(self.orders_with_rule[rule]),
                       "indicators": {i: n for (r, i), n in sorted(self.cards.items()) if r == rule}}
                for rule in rules
            },
            "cards_per_indicator": dict(sorted(Counter(i for (_r, i) in self.cards.elements()).items())),
            "per_month": [
                {"month": m, "orders": self.orders_per_month[m],
                 "cards": {rule: self.cards_per_month[(m, rule)] for rule in rules if self.cards_per_month[(m, rule)]}}
                for m in months
            ],
            "evidence_patterns": [{"pattern": p, "orders": n} for p, n in _top(self.patterns, 20)],
            "evidence_cited": [{"rule_evidence": p, "cards": n} for p, n in _top(self.evidence, 30)],
            "data_missing": {
                "not_in_export": dict(sorted(self.unavailable.items())),
                "none_for_patient": dict(sorted(self.empty.items())),
            },
            "resources_left_out_as_later_than_order": self.left_out,
            "malformed_lines": {"count": self.malformed, "first": self.malformed_lines},
            "lines_read": self.lines_read,
            "files": self.files,
        }


def _top(counter: Counter[str], n: int) -> list[tuple[str, int]]:
    """Most common first, ties by name: the same list whatever order the orders came in."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def format_summary(data: dict[str, Any]) -> str:
    """The summary as a terminal reads it."""
    lines = [
        f"Replayed {data['orders_replayed']} orders of {data['patients_with_orders']} patients "
        f"({data['patients_in_export']} patients in the export) in {data['seconds']:.1f} s ({data['engine']}).",
        f"Cards: {data['cards']}; orders without a card: {len(data['orders_without_cards'])}; "
        f"orders refused: {len(data['orders_refused'])}; malformed lines skipped: {data['malformed_lines']['count']}.",
    ]
    if data["cards_per_rule"]:
        lines.append(f"{'rule':<28} {'cards':>7} {'per 100 orders':>15}  indicators")
        for rule, r in data["cards_per_rule"].items():
            mix = ", ".join(f"{i} {n}" for i, n in r["indicators"].items())
            per = "-" if r["per_100_orders"] is None else f"{r['per_100_orders']:.1f}"
            lines.append(f"{rule:<28} {r['cards']:>7} {per:>15}  {mix}")
    missing = data["data_missing"]
    if missing["not_in_export"]:
        lines.append("Not in the export (every order lacked it): " + ", ".join(missing["not_in_export"]))
    return "\n".join(lines) + "\n"
