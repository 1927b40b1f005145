"""indication-off-label and indication-missing, through HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import Client
from tests.rules.naltrexone import requests_b as b

LABS = (b.alt(), b.ast())
CONTRAVE = b.medication("1551468", "12 HR bupropion hydrochloride 90 MG / naltrexone hydrochloride 8 MG Extended "
                        "Release Oral Tablet")
LYBALVI = b.medication("2570399", "olanzapine 10 MG / samidorphan 10 MG Oral Tablet")


def post(client: Client, request: dict) -> dict:
    response = client.hook(request)
    assert response.status_code == 200, response.text
    return response.json()


def test_off_label_multiple_sclerosis(client: Client) -> None:
    body = post(client, b.request(b.ms("ms-1"), *LABS))
    assert b.rules_fired(body) == [("indication-off-label", "info")]
    card = body["cards"][0]
    assert card["summary"] == ("Off-label use of naltrexone for multiple sclerosis: approved only for alcohol and "
                               "opioid dependence")
    assert "`Condition/ms-1`" in card["detail"]
    assert "**Multiple sclerosis (disorder)**" in card["detail"] and "**off-label**" in card["detail"]
    assert "suggestions" not in card


@pytest.mark.parametrize(("system", "code", "display", "named"), [
    (b.ICD10CM, "F60.3", "Borderline personality disorder", "borderline personality disorder"),
    (b.ICD10CM, "F84.0", "Autistic disorder", "autism or a developmental disorder"),
    (b.ICD10CM, "K59.03", "Drug induced constipation", "opioid-induced constipation"),
])
def test_off_label_names_the_condition(client: Client, system: str, code: str, display: str, named: str) -> None:
    body = post(client, b.request(b.condition("c1", system, code, display), *LABS))
    assert b.rules_fired(body) == [("indication-off-label", "info")]
    assert named in body["cards"][0]["summary"]
    assert "`Condition/c1`" in body["cards"][0]["detail"]


@pytest.mark.parametrize("indication", [
    b.aud(),
    b.condition("oud-rem", b.ICD10CM, "F11.21", "Opioid dependence, in remission", status="remission"),
    b.condition("aud-old", b.ICD10CM, "F10.21", "Alcohol dependence, in remission", status="resolved"),
])
def test_an_approved_indication_silences_both(client: Client, indication: dict) -> None:
    body = post(client, b.request(indication, b.ms(), *LABS))
    assert not {"indication-off-label", "indication-missing"} & set(b.cards_by_rule(body))


def test_missing_indication(client: Client) -> None:
    body = post(client, b.request(*LABS))
    assert b.rules_fired(body) == [("indication-missing", "info")]
    card = body["cards"][0]
    assert card["summary"] == ("No indication for naltrexone on record: document alcohol or opioid use disorder, or "
                               "the off-label use")
    assert f"`Patient/{b.PATIENT_ID}`" in card["detail"]


def test_resolved_off_label_condition_is_not_an_indication(client: Client) -> None:
    body = post(client, b.request(b.condition("ms-old", b.SNOMED, "24700007", "Multiple sclerosis", "resolved"),
                                  *LABS))
    assert b.rules_fired(body) == [("indication-missing", "info")]


def test_entered_in_error_aud_does_not_count(client: Client) -> None:
    wrong = b.aud("aud-wrong")
    wrong["verificationStatus"]["coding"][0]["code"] = "entered-in-error"
    assert b.rules_fired(post(client, b.request(wrong, *LABS))) == [("indication-missing", "info")]


def test_missing_is_silent_when_conditions_unavailable(client: Client) -> None:
    body = post(client, b.request(*LABS, failed={"conditions": "Condition search failed"}))
    assert b.rules_fired(body) == [("data-incomplete", "warning")]
    assert "`indication-missing`" in body["cards"][0]["detail"]


@pytest.mark.parametrize("med", [CONTRAVE, LYBALVI])
def test_contrave_and_lybalvi_are_not_judged_by_naltrexone_indications(client: Client, med: dict) -> None:
    order = b.draft(1, "{tbl}", med=med)
    assert post(client, b.request(*LABS, drafts=[order]))["cards"] == []
    assert post(client, b.request(b.ms(), *LABS, drafts=[order]))["cards"] == []


def test_vivitrol_is_judged(client: Client) -> None:
    order = b.draft(380, "mg", frequency=1, period=28, med=b.medication("637213", "naltrexone 380 MG Injection"))
    assert b.rules_fired(post(client, b.request(*LABS, drafts=[order]))) == [("indication-missing", "info")]
