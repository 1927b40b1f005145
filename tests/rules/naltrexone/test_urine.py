"""urine-screen-positive and urine-screen-needed through HTTP."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from tests.conftest import Client
from tests.rules.naltrexone.builders import (
    FENTANYL,
    LOPERAMIDE,
    OPIATES,
    OUD,
    OUD_REMISSION,
    OXYCODONE,
    URINE_NALTREXONE,
    actions,
    cards,
    condition,
    draft,
    hook_request,
    med_request,
    med_statement,
    one,
    post,
    rule_ids,
    urine,
)

POSITIVE = "urine-screen-positive"
NEEDED = "urine-screen-needed"


def _assert_urine_screen_order(action: dict) -> None:
    resource = action["resource"]
    ServiceRequest.model_validate(resource)
    assert resource["resourceType"] == "ServiceRequest" and resource["status"] == "draft"
    codes = {(c["system"], c["code"]) for c in resource["code"]["coding"]}
    assert ("http://snomed.info/sct", "310627008") in codes
    assert {("http://loinc.org", c) for c in ("19295-5", "58379-9", "58359-1", "19550-3", "58430-0")} <= codes
    assert resource["subject"] == {"reference": "Patient/pt-rules"}
    assert resource["encounter"] == {"reference": "Encounter/enc-rules"}


# --- urine-screen-positive -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("days", "fires"), [(0, True), (13, True), (14, True), (15, False)])
def test_positive_lookback(client: Client, days: int, fires: bool) -> None:
    body = post(client, hook_request(urine_screens=[urine("pos", FENTANYL, days=days, positive=True)]))
    assert rule_ids(body) == ([(POSITIVE, "critical")] if fires else [])


def test_positive_card(client: Client) -> None:
    body = post(client, hook_request(urine_screens=[urine("pos", FENTANYL, days=3, positive=True)]))
    card = one(body, POSITIVE)
    assert card["indicator"] == "critical"
    assert "`Observation/pos`" in card["detail"] and "**positive**" in card["detail"]
    assert "naltrexone" in card["summary"] and len(card["summary"]) < 140
    [delete] = actions(card, "delete")
    assert delete["resourceId"] == "MedicationRequest/nal-draft"
    [create] = actions(card, "create")
    _assert_urine_screen_order(create)
    assert card["overrideReasons"]


def test_value_string_positive(client: Client) -> None:
    body = post(client, hook_request(urine_screens=[urine("str", OPIATES, days=2, value_string="Positive")]))
    assert "`Observation/str`" in one(body, POSITIVE)["detail"]


def test_later_negative_of_same_code_supersedes(client: Client) -> None:
    body = post(client, hook_request(urine_screens=[urine("old-pos", OPIATES, days=6, positive=True),
                                                    urine("new-neg", OPIATES, days=2, positive=False)]))
    assert cards(body, POSITIVE) == []


def test_negative_of_another_code_does_not_supersede(client: Client) -> None:
    body = post(client, hook_request(urine_screens=[urine("fent-pos", FENTANYL, days=6, positive=True),
                                                    urine("opi-neg", OPIATES, days=2, positive=False)]))
    card = one(body, POSITIVE)
    assert "`Observation/fent-pos`" in card["detail"] and "`Observation/opi-neg`" not in card["detail"]


@pytest.mark.parametrize("status", ["preliminary", "entered-in-error", "cancelled"])
def test_non_final_results_ignored(client: Client, status: str) -> None:
    body = post(client, hook_request(urine_screens=[urine("pos", OPIATES, days=2, positive=True, status=status)]))
    assert cards(body, POSITIVE) == []


def test_urine_naltrexone_never_counts(client: Client) -> None:
    body = post(client, hook_request(urine_screens=[urine("ntx", URINE_NALTREXONE, days=2, positive=True)]))
    assert rule_ids(body) == []


# --- urine-screen-needed ---------------------------------------------------------------------------------------
def test_needed_for_active_oud(client: Client) -> None:
    body = post(client, hook_request(conditions=[condition("oud", OUD)]))
    card = one(body, NEEDED)
    assert card["indicator"] == "warning"
    assert "`Condition/oud`" in card["detail"]
    [create] = actions(card, "create")
    _assert_urine_screen_order(create)
    assert card["suggestions"][0]["isRecommended"] is True


def test_needed_for_oud_in_remission(client: Client) -> None:
    body = post(client, hook_request(conditions=[condition("rem", OUD_REMISSION, clinical="remission")]))
    assert "`Condition/rem`" in one(body, NEEDED)["detail"]


def test_refuted_oud_is_not_history(client: Client) -> None:
    body = post(client, hook_request(conditions=[condition("aud"), condition("oud", OUD, verification="refuted")]))
    assert cards(body, NEEDED) == []


@pytest.mark.parametrize(("end", "fires"), [(60, True), (90, True), (91, False)])
def test_opioid_exposure_lookback(client: Client, end: int, fires: bool) -> None:
    body = post(client, hook_request(statements=[med_statement("oxy", OXYCODONE, start=end + 10, end=end)]))
    found = cards(body, NEEDED)
    assert [c["indicator"] for c in found] == (["warning"] if fires else [])
    if fires:
        assert "`MedicationStatement/oxy`" in found[0]["detail"]


def test_current_opioid_counts(client: Client) -> None:
    body = post(client, hook_request(requests=[med_request("oxy", OXYCODONE, status="active", authored=3)]))
    assert "`MedicationRequest/oxy`" in one(body, NEEDED)["detail"]


@pytest.mark.parametrize(("days", "fires"), [(0, False), (7, False), (8, True)])
def test_negative_screen_lookback(client: Client, days: int, fires: bool) -> None:
    body = post(client, hook_request(conditions=[condition("oud", OUD)],
                                     urine_screens=[urine("neg", OPIATES, days=days, positive=False)]))
    assert [c["indicator"] for c in cards(body, NEEDED)] == (["warning"] if fires else [])


def test_positive_screen_fires_positive_only(client: Client) -> None:
    body = post(client, hook_request(conditions=[condition("oud", OUD)],
                                     urine_screens=[urine("pos", FENTANYL, days=3, positive=True)]))
    assert [c for c in rule_ids(body) if c[0] in {POSITIVE, NEEDED}] == [(POSITIVE, "critical")]


def test_screen_without_result_does_not_confirm(client: Client) -> None:
    body = post(client, hook_request(conditions=[condition("oud", OUD)],
                                     urine_screens=[urine("pending", OPIATES, days=1, positive=None)]))
    assert "`Observation/pending`" in one(body, NEEDED)["detail"]


def test_peripheral_opioid_and_same_session_draft_are_not_history(client: Client) -> None:
    body = post(client, hook_request(
        drafts=[draft(), draft("oxy-draft", OXYCODONE, mg=5)],
        statements=[med_statement("lop", LOPERAMIDE, status="active", start=10)],
        hook="order-select", selections=["MedicationRequest/nal-draft"]))
    assert cards(body, NEEDED) == []


def test_silent_when_urine_screens_unavailable(client: Client) -> None:
    body = post(client, hook_request(conditions=[condition("oud", OUD)], unavailable=["urineDrugScreens"]))
    assert cards(body, NEEDED) == []
