"""naltrexone-blocks-opioid through HTTP: an opioid ordered for a patient on naltrexone."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from cds_service.rules.naltrexone.pack import NaltrexonePack
from tests.conftest import Client, make_settings
from tests.rules.naltrexone.builders import (
    EMBEDA,
    HYDROMORPHONE,
    LOPERAMIDE,
    LYBALVI,
    NALTREXONE_50,
    OXYCODONE,
    VIVITROL,
    actions,
    draft,
    hook_request,
    med_request,
    med_statement,
    one,
    post,
    rule_ids,
)

RULE = "naltrexone-blocks-opioid"
OPIOID_DRAFT = draft("opioid-draft", OXYCODONE, mg=5)


def test_oral_naltrexone_current(client: Client) -> None:
    body = post(client, hook_request(OPIOID_DRAFT, requests=[med_request("ntx", NALTREXONE_50, authored=20)]))
    assert rule_ids(body) == [(RULE, "critical")]
    card = one(body, RULE)
    assert "`MedicationRequest/ntx`" in card["detail"]
    assert "oxycodone" in card["summary"] and len(card["summary"]) < 140
    for phrase in ("analgesia of the opioid is blocked", "respiratory depression", "28-30 days", "72 hours",
                   "monitored setting"):
        assert phrase in card["detail"]
    [delete] = actions(card, "delete")
    assert delete["resourceId"] == "MedicationRequest/opioid-draft"
    labels = [s["label"] for s in card["suggestions"]]
    assert labels[1] == "Use non-opioid or regional analgesia instead"
    assert labels[2].startswith("If an opioid is unavoidable")
    assert card["overrideReasons"]


def test_lybalvi_blocks_too(client: Client) -> None:
    body = post(client, hook_request(OPIOID_DRAFT, statements=[med_statement("lyb", LYBALVI, status="active")]))
    assert "`MedicationStatement/lyb`" in one(body, RULE)["detail"]


@pytest.mark.parametrize(("days", "fires"), [(0, True), (20, True), (29, True), (30, True), (31, False),
                                             (45, False)])
def test_injection_window(client: Client, days: int, fires: bool) -> None:
    body = post(client, hook_request(draft("hm", HYDROMORPHONE, mg=2),
                                     statements=[med_statement("xr", VIVITROL, status="completed", on=days)]))
    if not fires:
        assert rule_ids(body) == []
        return
    card = one(body, RULE)
    assert card["indicator"] == "critical"
    assert "`MedicationStatement/xr`" in card["detail"] and f"{days} days ago" in card["detail"]
    assert f"injection {days} days ago" in card["summary"]
    assert [link["label"] for link in card["links"]] == ["Naltrexone labeling (DailyMed)",
                                                         "Vivitrol (naltrexone extended-release) labeling"]


def test_injection_ordered_counts_from_order_date(client: Client) -> None:
    body = post(client, hook_request(OPIOID_DRAFT, requests=[med_request("xr-mr", VIVITROL, status="completed",
                                                                         authored=25, supply_days=28)]))
    assert "25 days ago" in one(body, RULE)["detail"]


@pytest.mark.parametrize(("ended", "blocks"), [(0, True), (1, True), (3, True), (4, False), (10, False)])
def test_past_oral_naltrexone_blocks_for_72_hours(client: Client, ended: int, blocks: bool) -> None:
    """The last dose may have been late on its day: 72 h later is the end of the third day after it."""
    body = post(client, hook_request(OPIOID_DRAFT, statements=[med_statement("ntx", NALTREXONE_50, end=ended)]))
    assert rule_ids(body) == ([(RULE, "critical")] if blocks else [])
    if blocks:
        assert "72 hours" in one(body, RULE)["detail"]


def test_embeda_is_not_naltrexone_therapy(client: Client) -> None:
    body = post(client, hook_request(OPIOID_DRAFT, requests=[med_request("emb", EMBEDA, authored=5)]))
    assert rule_ids(body) == []


def test_naltrexone_draft_in_same_session(client: Client) -> None:
    sign = post(client, hook_request([OPIOID_DRAFT, draft()]))
    card = [c for c in sign["cards"] if c["source"]["topic"]["code"] == RULE]
    assert len(card) == 1 and card[0]["indicator"] == "critical"
    assert "`MedicationRequest/nal-draft`" in card[0]["detail"]
    draft_line = next(line for line in card[0]["detail"].splitlines() if "`MedicationRequest/nal-draft`" in line)
    assert "days ago" not in draft_line and "ordered in this ordering session" in draft_line
    select = post(client, hook_request([OPIOID_DRAFT, draft()], hook="order-select",
                                       selections=["MedicationRequest/opioid-draft"]))
    assert rule_ids(select) == [(RULE, "critical")]


def test_peripheral_opioid_order_is_a_warning(client: Client) -> None:
    body = post(client, hook_request(draft("lop", LOPERAMIDE, mg=2),
                                     requests=[med_request("ntx", NALTREXONE_50, authored=20)]))
    assert rule_ids(body) == [(RULE, "warning")]
    card = one(body, RULE)
    assert "loperamide" in card["summary"].lower() or "Loperamide" in card["summary"]
    assert actions(card, "delete")[0]["resourceId"] == "MedicationRequest/lop"


def test_no_naltrexone_no_card(client: Client) -> None:
    assert rule_ids(post(client, hook_request(OPIOID_DRAFT))) == []


def test_injection_window_is_configurable(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), packs=[NaltrexonePack(NaltrexoneConfig(xr_naltrexone_days=35))])
    with TestClient(app) as http:
        client = Client(http)
        got = {days: rule_ids(post(client, hook_request(OPIOID_DRAFT, statements=[
            med_statement("xr", VIVITROL, status="completed", on=days)]))) for days in (31, 35, 36)}
    assert got == {31: [(RULE, "critical")], 35: [(RULE, "critical")], 36: []}
