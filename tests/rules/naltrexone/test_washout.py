"""opioid-washout through HTTP: the 7/10-day and 14-day (buprenorphine/methadone) boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.app import create_app
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from cds_service.rules.naltrexone.pack import NaltrexonePack
from tests.conftest import Client, make_settings
from tests.rules.naltrexone.builders import (
    BUP_NALOXONE,
    LOPERAMIDE,
    METHADONE,
    OPIATES,
    OUD,
    OXYCODONE,
    actions,
    ago,
    cards,
    condition,
    dispense,
    draft,
    hook_request,
    med_request,
    med_statement,
    one,
    post,
    urine,
)

RULE = "opioid-washout"


def oxy_ended(days: int, rid: str = "oxy-ms") -> dict:
    return med_statement(rid, OXYCODONE, status="completed", start=days + 20, end=days)


@pytest.mark.parametrize(("days", "indicator"), [(0, "critical"), (3, "critical"), (6, "critical"),
                                                  (7, "warning"), (10, "warning")])
def test_boundaries_fire(client: Client, days: int, indicator: str) -> None:
    body = post(client, hook_request(statements=[oxy_ended(days)]))
    card = one(body, RULE)
    assert card["indicator"] == indicator
    assert "`MedicationStatement/oxy-ms`" in card["detail"]
    if days:
        assert f"{days} days ago" in card["detail"]
    assert card["source"]["topic"] == {"system": "urn:cds-naltrexone:rule", "code": RULE,
                                       "display": "Opioid-free interval before naltrexone"}
    assert card["overrideReasons"]


@pytest.mark.parametrize("days", [11, 30, 60])
def test_silent_after_full_interval(client: Client, days: int) -> None:
    body = post(client, hook_request(statements=[oxy_ended(days)]))
    assert cards(body, RULE) == []


def test_critical_card_summary_and_postpone_update(client: Client) -> None:
    body = post(client, hook_request(statements=[oxy_ended(3)]))
    card = one(body, RULE)
    assert card["summary"].startswith("Last opioid (oxycodone) 3 days ago")
    assert "naltrexone" in card["summary"] and len(card["summary"]) < 140
    [update] = actions(card, "update")
    resource = update["resource"]
    start = ago(3 - 10)  # 3 days ago + 10 days
    assert resource["id"] == "nal-draft" and resource["status"] == "draft"
    assert resource["dispenseRequest"]["validityPeriod"]["start"] == start
    assert resource["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["start"] == start
    MedicationRequest.model_validate(resource)
    [delete] = actions(card, "delete")
    assert delete["resourceId"] == "MedicationRequest/nal-draft"
    assert actions(card, "create") == []


def test_warning_suggests_urine_screen_and_naloxone_challenge(client: Client) -> None:
    body = post(client, hook_request(statements=[oxy_ended(8)]))
    card = one(body, RULE)
    assert card["indicator"] == "warning"
    assert "8 days ago" in card["summary"]
    [create] = actions(card, "create")
    ServiceRequest.model_validate(create["resource"])
    codes = {c["code"] for c in create["resource"]["code"]["coding"]}
    assert {"310627008", "19295-5", "58379-9"} <= codes
    assert create["resource"]["subject"] == {"reference": "Patient/pt-rules"}
    labels = [s["label"] for s in card["suggestions"]]
    assert "Perform a naloxone challenge before the first dose" in labels
    assert "naloxone 0.2 mg IV" in card["detail"]
    assert actions(card, "update") == [] and actions(card, "delete") == []


def test_warning_with_recent_negative_screen_cites_it_and_only_suggests_challenge(client: Client) -> None:
    body = post(client, hook_request(statements=[oxy_ended(9)], urine_screens=[urine("neg", OPIATES, days=1)]))
    card = one(body, RULE)
    assert card["indicator"] == "warning"
    assert "`Observation/neg`" in card["detail"]
    assert actions(card, "create") == []
    assert [s["label"] for s in card["suggestions"]] == ["Perform a naloxone challenge before the first dose"]


@pytest.mark.parametrize(("days", "fires"), [(11, True), (13, True), (14, False), (20, False)])
@pytest.mark.parametrize("product", [BUP_NALOXONE, METHADONE])
def test_maintenance_window(client: Client, days: int, fires: bool, product: tuple[str, str]) -> None:
    body = post(client, hook_request(conditions=[condition("oud", OUD)],
                                     requests=[med_request("maint", product, status="stopped",
                                                           authored=days + 29, supply_days=30)]))
    found = cards(body, RULE)
    if not fires:
        assert found == []
        return
    [card] = found
    assert card["indicator"] == "warning"
    assert "`MedicationRequest/maint`" in card["detail"]
    agent = "buprenorphine" if product is BUP_NALOXONE else "methadone"
    assert agent in card["summary"] and f"{days} days ago" in card["summary"]
    assert "14 days" in card["detail"]


def test_buprenorphine_recent_postpones_past_maintenance_window(client: Client) -> None:
    body = post(client, hook_request(statements=[med_statement("bup", BUP_NALOXONE, status="stopped", end=2)]))
    card = one(body, RULE)
    assert card["indicator"] == "critical"
    [update] = actions(card, "update")
    assert update["resource"]["dispenseRequest"]["validityPeriod"]["start"] == ago(2 - 14)


@pytest.mark.parametrize(("handed", "supply", "indicator"), [(10, 5, "critical"), (11, 5, "warning"),
                                                               (15, 5, None)])
def test_dispense_exposure(client: Client, handed: int, supply: int, indicator: str | None) -> None:
    # exposure ends on hand-over + daysSupply - 1 (the hand-over day is the first day of supply)
    body = post(client, hook_request(dispenses=[dispense("disp", OXYCODONE, handed=handed, days_supply=supply)]))
    found = cards(body, RULE)
    if indicator is None:
        assert found == []
    else:
        assert [c["indicator"] for c in found] == [indicator]
        assert "`MedicationDispense/disp`" in found[0]["detail"]


@pytest.mark.parametrize(("authored", "indicator"), [(19, "critical"), (20, "warning"), (23, "warning"),
                                                       (24, None)])
def test_request_authored_plus_supply(client: Client, authored: int, indicator: str | None) -> None:
    # 14-day supply authored N days ago: last day N - 13 days ago
    body = post(client, hook_request(requests=[med_request("oxy-mr", OXYCODONE, status="completed",
                                                           authored=authored, supply_days=14)]))
    assert [c["indicator"] for c in cards(body, RULE)] == ([indicator] if indicator else [])


def test_ignores_peripheral_current_entered_in_error_and_drafts(client: Client) -> None:
    body = post(client, hook_request(
        drafts=[draft(), draft("oxy-draft", OXYCODONE, mg=5)],
        statements=[med_statement("lop", LOPERAMIDE, status="completed", end=2),
                    med_statement("eie", OXYCODONE, status="entered-in-error", end=2)],
        requests=[med_request("oxy-active", OXYCODONE, status="active", authored=5)],
        hook="order-select", selections=["MedicationRequest/nal-draft"]))
    assert cards(body, RULE) == []
    assert [c["indicator"] for c in cards(body, "opioid-concurrent")] == ["critical"]


def test_cites_every_exposure_in_the_window(client: Client) -> None:
    body = post(client, hook_request(statements=[oxy_ended(9, "older"), oxy_ended(4, "newer")]))
    card = one(body, RULE)
    assert card["indicator"] == "critical"
    assert "`MedicationStatement/older`" in card["detail"] and "`MedicationStatement/newer`" in card["detail"]
    assert "4 days ago" in card["summary"]


def test_threshold_is_configurable(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), packs=[NaltrexonePack(NaltrexoneConfig(opioid_free_days=5,
                                                                                     opioid_free_full_days=12))])
    with TestClient(app) as http:
        client = Client(http)
        got = {days: [c["indicator"] for c in cards(post(client, hook_request(statements=[oxy_ended(days)])), RULE)]
               for days in (4, 5, 6, 12, 13)}
    assert got == {4: ["critical"], 5: ["warning"], 6: ["warning"], 12: ["warning"], 13: []}
