"""data-incomplete, through HTTP: a prefetch OperationOutcome, a malformed resource, both directions."""

from __future__ import annotations

from tests.conftest import Client
from tests.rules.naltrexone import requests_b as b

NORMAL = (b.aud(), b.alt(), b.ast())


def post(client: Client, request: dict) -> dict:
    response = client.hook(request)
    assert response.status_code == 200, response.text
    return response.json()


def test_silent_when_everything_was_read(client: Client) -> None:
    assert post(client, b.request(*NORMAL))["cards"] == []


def test_unavailable_urine_screens_with_other_rules_still_firing(client: Client) -> None:
    body = post(client, b.request(*NORMAL, b.cirrhosis("cirr"), failed={"urineDrugScreens": "upstream timeout"}))
    assert b.rules_fired(body) == [("data-incomplete", "warning"), ("liver-disease", "critical")]
    card = b.cards_by_rule(body)["data-incomplete"][0]
    assert card["summary"] == "Naltrexone check incomplete: urine drug screens could not be read"
    detail = card["detail"]
    assert ("- **urine drug screens** could not be obtained: the EHR reported an error: upstream timeout. Checks "
            "that could not run: `urine-screen-positive`, `urine-screen-needed`") in detail
    assert "**Evidence**" in detail and "**Source**" in detail
    assert "suggestions" not in card
    assert [r["code"] for r in card["overrideReasons"]] == ["data-reviewed", "action-completed",
                                                            "benefit-outweighs-risk"]
    assert "`Condition/cirr`" in b.cards_by_rule(body)["liver-disease"][0]["detail"]


def test_several_categories(client: Client) -> None:
    body = post(client, b.request(*NORMAL, failed={"patient": "denied", "allergies": "denied"}))
    assert b.rules_fired(body) == [("data-incomplete", "warning")]
    card = body["cards"][0]
    assert card["summary"] == ("Naltrexone check incomplete: patient demographics (age) and allergies could not be "
                               "read")
    assert "Checks that could not run: `young-patient`" in card["detail"]
    assert "Checks that could not run: `allergy`" in card["detail"]


def test_malformed_observation(client: Client) -> None:
    bad = b.alt("bad-alt")
    bad["effectiveDateTime"] = 20261120
    body = post(client, b.request(b.aud(), b.ast(), bad))
    assert b.rules_fired(body) == [("data-incomplete", "warning")]
    card = body["cards"][0]
    assert card["summary"] == "Naltrexone check incomplete: 1 unreadable record skipped"
    assert ("- Skipped: 1 Observation record (no readable effective date): `Observation/bad-alt`. Checks that may be "
            "affected: `liver-enzymes`, `liver-tests-missing`, `urine-screen-positive`, `urine-screen-needed`"
            ) in card["detail"]


def test_opioid_order_reports_missing_medication_data(client: Client) -> None:
    request = b.request(b.aud(), drafts=[b.oxycodone_draft()], failed={"medicationStatements": "timeout"})
    body = post(client, request)
    assert b.rules_fired(body) == [("data-incomplete", "warning")]
    card = body["cards"][0]
    assert card["summary"] == ("Naltrexone check of oxycodone incomplete: medication statements (including "
                               "over-the-counter use) could not be read")
    assert "Checks that could not run: `naltrexone-blocks-opioid`" in card["detail"]


def test_categories_match_the_pack() -> None:
    from cds_service.rules.naltrexone import data
    from cds_service.rules.naltrexone.pack import NaltrexonePack

    categories = {t.category for t in NaltrexonePack().prefetch}
    assert categories == set(data.NALTREXONE_CHECKS)
    assert set(data.OPIOID_ORDER_CHECKS) <= categories


def test_a_crashed_check_is_reported(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from cds_service.app import create_app
    from cds_service.rules.base import OrderCheck, rule
    from cds_service.rules.naltrexone.pack import NaltrexonePack
    from tests.conftest import make_settings

    @rule(id="boom-check", title="Boom", indicators=("info",), trigger="-", suggestions="-", source="-")
    def boom(ctx):
        raise RuntimeError("bug")

    class CrashingPack(NaltrexonePack):
        def checks(self, orders):
            return [OrderCheck(c.order, (boom, *c.rules), c.prefetch_keys) for c in super().checks(orders)]

    with TestClient(create_app(make_settings(tmp_path), packs=[CrashingPack()])) as http:
        body = post(Client(http), b.request(*NORMAL))
    assert b.rules_fired(body) == [("data-incomplete", "warning")]
    card = body["cards"][0]
    assert card["summary"] == "Naltrexone check incomplete: 1 check failed"
    assert "- Not completed: check 'boom-check' could not be completed (internal error, logged)" in card["detail"]
    assert "could **not** run completely for this order: `boom-check`" in card["detail"]
