"""The renderer hands back, with each card, the facts the ledger keeps: the finding, the card uuid and each
suggestion's uuid and label, equal to what the card JSON carries."""

from __future__ import annotations

from cds_service.cards.render import MAX_SUMMARY, RULE_SYSTEM, render, render_all
from cds_service.rules.base import ActionSpec, Finding, LinkSpec, OverrideReasonSpec, SuggestionSpec

STOP = SuggestionSpec("Stop the opioid", (ActionSpec("update", "Set MedicationRequest/o to stopped",
                                                     resource={"resourceType": "MedicationRequest", "id": "o"}),))
REVIEW = SuggestionSpec("Review analgesia with the prescriber", recommended=True)
REASON = OverrideReasonSpec("benefit", "Benefit outweighs the risk")


def finding(rule_id: str = "opioid-concurrent", indicator: str = "critical", summary: str = "Stop? Oxycodone",
            order_ref: str = "MedicationRequest/n", **kw: object) -> Finding:
    return Finding(rule_id=rule_id, title=f"Title of {rule_id}", indicator=indicator,  # type: ignore[arg-type]
                   summary=summary, detail="Lead.", order_ref=order_ref, **kw)  # type: ignore[arg-type]


def test_the_card_and_its_ledger_facts_agree() -> None:
    f = finding(suggestions=(STOP, REVIEW), override_reasons=(REASON,), links=(LinkSpec("Label", "https://x.org"),),
                source_label="cds-naltrexone", source_url="https://label.example.org")
    r = render(f)
    assert r.finding is f and r.rule_id == "opioid-concurrent"
    assert r.card["uuid"] == r.uuid
    assert [(s["uuid"], s["label"]) for s in r.card["suggestions"]] == [(s.uuid, s.label) for s in r.suggestions]
    assert [s.spec for s in r.suggestions] == [STOP, REVIEW]
    assert len({r.uuid, *(s.uuid for s in r.suggestions)}) == 3  # every uuid its own
    assert r.card["source"] == {"label": "cds-naltrexone", "url": "https://label.example.org",
                                "topic": {"system": RULE_SYSTEM, "code": "opioid-concurrent",
                                          "display": "Title of opioid-concurrent"}}
    assert r.card["suggestions"][0]["actions"] == [{"type": "update", "description": "Set MedicationRequest/o to "
                                                    "stopped", "resource": {"resourceType": "MedicationRequest",
                                                                            "id": "o"}}]
    assert r.card["suggestions"][1] == {"label": "Review analgesia with the prescriber",
                                        "uuid": r.suggestions[1].uuid, "isRecommended": True}
    assert r.override_reasons == (REASON,)
    assert r.card["overrideReasons"] == [{"system": REASON.system, "code": "benefit",
                                          "display": "Benefit outweighs the risk"}]
    assert r.card["links"] == [{"label": "Label", "url": "https://x.org", "type": "absolute"}]


def test_fresh_uuids_on_every_rendering() -> None:
    f = finding(suggestions=(STOP,))
    a, b = render(f), render(f)
    assert a.uuid != b.uuid and a.suggestions[0].uuid != b.suggestions[0].uuid


def test_the_summary_kept_is_the_one_sent() -> None:
    r = render(finding(summary="x" * 200))
    assert r.summary == r.card["summary"] and len(r.summary) == MAX_SUMMARY and r.summary.endswith("…")


def test_an_info_card_offers_no_override_reasons_and_keeps_none() -> None:
    r = render(finding(indicator="info", override_reasons=(REASON,)))
    assert "overrideReasons" not in r.card and r.override_reasons == ()


def test_no_empty_optionals() -> None:
    r = render(finding())
    assert set(r.card) == {"uuid", "summary", "indicator", "detail", "source"} and r.suggestions == ()


def test_most_severe_first_then_order_then_rule() -> None:
    found = [finding("liver-tests-missing", "info"), finding("young-patient", "warning", order_ref="B"),
             finding("allergy", "critical"), finding("indication-missing", "warning", order_ref="A")]
    assert [r.rule_id for r in render_all(found)] == ["allergy", "indication-missing", "young-patient",
                                                      "liver-tests-missing"]
