"""format_report / report_json: pure renderings of RuleStats."""

from __future__ import annotations

import json
from datetime import date

from cds_service.store import DailyStats, ReasonCount, RuleStats, SuggestionStats, format_report, report_json

STATS = [
    RuleStats(
        rule_id="naltrexone-opioid",
        issued=10,
        accepted=1,
        overridden=3,
        override_reasons=(
            ReasonCount("benefit", "Benefit outweighs risk", 2, "https://example.org/r"),
            ReasonCount("mystery", None, 1, "https://example.org/r"),
        ),
        suggestions=(SuggestionStats("Cancel the naltrexone order", 10, 1), SuggestionStats("Other", 0, 0)),
        silent=4,
        hook_calls=20,
        daily=(DailyStats("naltrexone-opioid", date(2026, 11, 24), 4, 1, 1, silent=4, hook_calls=20),
               DailyStats("naltrexone-opioid", date(2026, 11, 25), 6, 0, 2, hook_calls=0)),
    ),
    RuleStats(rule_id="opioid-on-naltrexone", issued=2, accepted=0, overridden=0, hook_calls=20),
]


def test_rule_stats_derived_values() -> None:
    s = STATS[0]
    assert s.override_rate == 0.75
    assert s.top_reasons == [("benefit", "Benefit outweighs risk", 2), ("mystery", None, 1)]
    assert s.suggestion_acceptance == [("Cancel the naltrexone order", 10, 1), ("Other", 0, 0)]
    assert STATS[1].override_rate is None


def test_format_report_table() -> None:
    text = format_report(STATS)
    lines = text.splitlines()
    assert lines[0].split() == ["Rule", "Issued", "Accepted", "Overridden", "Override", "rate", "Silent",
                                "Shown/100", "calls", "Silent/100", "calls"]
    row = next(line for line in lines if line.startswith("naltrexone-opioid"))
    assert row.split() == ["naltrexone-opioid", "10", "1", "3", "75.0%", "4", "50.0", "20.0"]
    assert len(row) == len(lines[0])  # fixed width
    assert "benefit (Benefit outweighs risk)" in text
    assert "mystery" in text
    assert "Cancel the naltrexone order" in text
    other = next(line for line in lines if line.startswith("opioid-on-naltrexone"))
    assert other.split()[4] == "-"
    assert lines[-2].split() == ["Total", "12", "1", "3", "75.0%", "4", "60.0", "20.0"]
    assert lines[-1] == "Hook calls that reached the rules: 20"
    assert "      2026-11-24       4 / 4      / 20" in lines


def test_format_report_empty() -> None:
    assert "No cards" in format_report([])


def test_report_json() -> None:
    data = report_json(STATS)
    json.dumps(data)  # serialisable
    assert data[0]["rule_id"] == "naltrexone-opioid"
    assert data[0]["override_rate"] == 0.75
    assert data[0]["override_reasons"][0] == {
        "system": "https://example.org/r",
        "code": "benefit",
        "display": "Benefit outweighs risk",
        "count": 2,
        "non_adherence": None,
    }
    assert data[0]["non_adherence_reasons"] == []
    assert data[0]["suggestions"][0] == {
        "label": "Cancel the naltrexone order",
        "issued": 10,
        "accepted": 1,
        "acceptance_rate": 0.1,
    }
    assert data[0]["suggestions"][1]["acceptance_rate"] is None
    assert data[1]["override_rate"] is None
    assert data[1]["override_reasons"] == []


def test_report_json_silent_counts() -> None:
    data = report_json(STATS)[0]
    assert (data["silent"], data["hook_calls"], data["shown_per_100_calls"], data["silent_per_100_calls"]) == (
        4, 20, 50.0, 20.0)
    assert data["daily"] == [
        {"day": "2026-11-24", "issued": 4, "accepted": 1, "overridden": 1, "override_rate": 0.5, "silent": 4,
         "hook_calls": 20, "shown_per_100_calls": 20.0, "silent_per_100_calls": 20.0},
        {"day": "2026-11-25", "issued": 6, "accepted": 0, "overridden": 2, "override_rate": 1.0, "silent": 0,
         "hook_calls": 0, "shown_per_100_calls": None, "silent_per_100_calls": None},
    ]


def test_non_adherence_in_report() -> None:
    hl7 = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
    stats = [RuleStats(rule_id="liver-disease", issued=3, accepted=0, overridden=2, override_reasons=(
        ReasonCount(code="action-completed", display="Already addressed", count=2, system=hl7,
                    non_adherence=("action-completed", "Recommended action was already completed")),),
        non_adherence=(("action-completed", "Recommended action was already completed", 2),))]
    data = report_json(stats)[0]
    assert data["override_reasons"][0]["non_adherence"] == {
        "system": hl7, "code": "action-completed", "display": "Recommended action was already completed"}
    assert data["non_adherence_reasons"] == [{"system": hl7, "code": "action-completed",
                                              "display": "Recommended action was already completed", "count": 2}]
    text = format_report(stats)
    assert "HL7 non-adherence reasons:" in text and "action-completed (Recommended action was already" in text
