"""young-patient and low-dose, through HTTP: age boundaries on the request date, dose arithmetic, thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from cds_service.rules.naltrexone.pack import NaltrexonePack
from tests.conftest import Client, make_settings
from tests.rules.naltrexone import requests_b as b

NORMAL = (b.aud(), b.alt(), b.ast())  # adult AUD with normal recent liver tests: nothing else to say


def post(client: Client, request: dict) -> dict:
    response = client.hook(request)
    assert response.status_code == 200, response.text
    return response.json()


def test_silent_adult_aud_standard_dose(client: Client) -> None:
    assert post(client, b.request(*NORMAL))["cards"] == []


@pytest.mark.parametrize(("birth", "age"), [("2009-11-26", 16), ("2009-11-25", 17), ("2006-11-26", 19)])
def test_young_patient_under_20(client: Client, birth: str, age: int) -> None:
    body = post(client, b.request(*NORMAL, birth_date=birth))
    assert b.rules_fired(body) == [("young-patient", "warning")]
    card = body["cards"][0]
    assert card["summary"] == (f"Naltrexone for a {age}-year-old (under 20): little safety data; specialist review")
    assert f"**{age} years old** (born {birth})" in card["detail"]
    assert f"`Patient/{b.PATIENT_ID}`" in card["detail"]
    assert [s["label"] for s in card["suggestions"]] == [
        "Specialist review (addiction or adolescent medicine) before starting"]
    assert "actions" not in card["suggestions"][0]
    assert {r["code"] for r in card["overrideReasons"]} == {
        "specialist-supervised", "benefit-outweighs-risk", "record-incorrect"}
    assert ("under 18 have not been established" in card["detail"]) is (age < 18)


def test_twenty_today_is_not_young(client: Client) -> None:
    assert post(client, b.request(*NORMAL, birth_date="2006-11-25"))["cards"] == []


def test_no_birth_date_is_silent(client: Client) -> None:
    body = post(client, b.request(*NORMAL, {"resourceType": "Patient", "id": b.PATIENT_ID}))
    assert body["cards"] == []


def test_minimum_age_is_configurable(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    app = create_app(make_settings(tmp_path), packs=[NaltrexonePack(NaltrexoneConfig(minimum_age=18))])
    with TestClient(app) as http:
        client = Client(http)
        assert post(client, b.request(*NORMAL, birth_date="2006-11-26"))["cards"] == []  # 19
        assert post(client, b.request(*NORMAL, birth_date="2008-11-25"))["cards"] == []  # 18 today
        body = post(client, b.request(*NORMAL, birth_date="2008-11-26"))  # 17
        assert b.rules_fired(body) == [("young-patient", "warning")]
        assert body["cards"][0]["summary"].startswith("Naltrexone for a 17-year-old (under 18)")
        assert "the site's minimum age is 18" in body["cards"][0]["detail"]


# --- low-dose ------------------------------------------------------------------------------------------------

def low_dose_card(client: Client, order: dict) -> dict | None:
    body = post(client, b.request(*NORMAL, drafts=[order]))
    found = b.cards_by_rule(body)
    others = [r for r in b.rules_fired(body) if r[0] != "low-dose"]
    assert others == [], others
    return found["low-dose"][0] if "low-dose" in found else None


@pytest.mark.parametrize(("dose", "fires"), [(4.5, True), (5, True), (5.5, False), (6, False), (50, False)])
def test_low_dose_boundary_in_mg(client: Client, dose: float, fires: bool) -> None:
    card = low_dose_card(client, b.draft(dose, "mg"))
    assert (card is not None) is fires
    if card:
        assert card["indicator"] == "info"
        assert card["summary"] == (f"Low-dose naltrexone: {dose:g} mg/day is off-label (compounded LDN); opioid "
                                   "checks still apply")
        assert f"{dose:g} mg × once a day = **{dose:g} mg/day**" in card["detail"]
        assert f"`MedicationRequest/{b.ORDER_ID}`" in card["detail"]
        assert "no FDA-approved low-dose product" in card["detail"]
        assert "opioid checks still apply" in card["detail"]
        assert "suggestions" not in card and "overrideReasons" not in card


def test_low_dose_amount_times_frequency(client: Client) -> None:
    card = low_dose_card(client, b.draft(2.5, "mg", frequency=2))
    assert card is not None
    assert "2.5 mg × twice a day = **5 mg/day**" in card["detail"]
    assert low_dose_card(client, b.draft(3, "mg", frequency=2)) is None  # 6 mg/day


def test_low_dose_tablets_times_strength(client: Client) -> None:
    card = low_dose_card(client, b.draft(0.1, "{tbl}"))  # a tenth of a 50 mg tablet
    assert card is not None
    assert "0.1 tablet × once a day = 0.1 per day × 50 mg naltrexone each = **5 mg/day**" in card["detail"]


def test_sandbox_one_pill_of_50_mg_is_not_low_dose(client: Client) -> None:
    assert low_dose_card(client, b.draft(1, "{pill}")) is None


def test_text_only_compounded_capsule(client: Client) -> None:
    order = b.draft(1, "{capsule}", med=b.medication(None, "Naltrexone 4.5 mg compounded capsule"),
                    text="Take 1 capsule at bedtime")
    card = low_dose_card(client, order)
    assert card is not None
    assert ("1 capsule × once a day = 1 per day × 4.5 mg naltrexone each (strength read from the medication "
            "text) = **4.5 mg/day** (instruction: \"Take 1 capsule at bedtime\")") in card["detail"]


def test_dose_unknown_is_silent(client: Client) -> None:
    assert low_dose_card(client, b.draft(None)) is None


def test_contrave_half_tablet_is_not_low_dose_naltrexone(client: Client) -> None:
    contrave = b.medication("1551468", "12 HR bupropion hydrochloride 90 MG / naltrexone hydrochloride 8 MG "
                            "Extended Release Oral Tablet")
    assert low_dose_card(client, b.draft(0.5, "{tbl}", med=contrave)) is None  # 4 mg naltrexone


def test_low_dose_threshold_is_configurable(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    app = create_app(make_settings(tmp_path), packs=[NaltrexonePack(NaltrexoneConfig(low_dose_max_mg=3))])
    with TestClient(app) as http:
        client = Client(http)
        assert low_dose_card(client, b.draft(4.5, "mg")) is None
        card = low_dose_card(client, b.draft(3, "mg"))
        assert card is not None and "at or under 3 mg/day" in card["detail"]
