"""overdose-risk through HTTP: OUD (active or in remission) without rescue naloxone."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

from tests.conftest import Client
from tests.rules.naltrexone.builders import (
    AUD,
    BUP_NALOXONE,
    NALOXONE_SPRAY,
    OPIATES,
    OUD,
    OUD_REMISSION,
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

RULE = "overdose-risk"
NEGATIVE_SCREEN = [urine("neg", OPIATES, days=1, positive=False)]


@pytest.mark.parametrize(("concept", "clinical"), [(OUD, "active"), (OUD_REMISSION, "remission"),
                                                   (OUD, "relapse")])
def test_fires_for_oud_without_naloxone(client: Client, concept: tuple, clinical: str) -> None:
    body = post(client, hook_request(conditions=[condition("oud", concept, clinical=clinical)],
                                     urine_screens=NEGATIVE_SCREEN))
    assert rule_ids(body) == [(RULE, "warning")]
    card = one(body, RULE)
    assert "`Condition/oud`" in card["detail"]
    for phrase in ("after stopping naltrexone", "missed dose", "end of the dosing interval"):
        assert phrase in card["detail"]
    assert "naltrexone" in card["summary"] and len(card["summary"]) < 140
    [create] = actions(card, "create")
    resource = create["resource"]
    MedicationRequest.model_validate(resource)
    assert resource["medicationCodeableConcept"]["coding"][0]["code"] == "1725059"
    assert resource["subject"] == {"reference": "Patient/pt-rules"}
    assert card["overrideReasons"]


def test_silent_without_oud(client: Client) -> None:
    body = post(client, hook_request(conditions=[condition("aud", AUD)]))
    assert cards(body, RULE) == []


def test_resolved_oud_does_not_count(client: Client) -> None:
    body = post(client, hook_request(conditions=[condition("aud"), condition("oud", OUD, clinical="resolved")],
                                     urine_screens=NEGATIVE_SCREEN))
    assert cards(body, RULE) == []


@pytest.mark.parametrize("where", ["request", "statement", "draft"])
def test_current_naloxone_silences(client: Client, where: str) -> None:
    kwargs: dict = {"conditions": [condition("oud", OUD)], "urine_screens": NEGATIVE_SCREEN}
    if where == "request":
        kwargs["requests"] = [med_request("nlx", NALOXONE_SPRAY, status="active", authored=60)]
    elif where == "statement":
        kwargs["statements"] = [med_statement("nlx", NALOXONE_SPRAY, status="active", start=30)]
    else:
        kwargs["drafts"] = [draft(), draft("nlx-draft", NALOXONE_SPRAY, mg=None)]
    body = post(client, hook_request(**kwargs))
    assert cards(body, RULE) == []


def test_past_naloxone_does_not_count(client: Client) -> None:
    body = post(client, hook_request(conditions=[condition("oud", OUD)], urine_screens=NEGATIVE_SCREEN,
                                     requests=[med_request("nlx", NALOXONE_SPRAY, status="completed", authored=400)]))
    assert [c["indicator"] for c in cards(body, RULE)] == ["warning"]


def test_naloxone_in_buprenorphine_is_not_rescue(client: Client) -> None:
    body = post(client, hook_request(conditions=[condition("oud", OUD)], urine_screens=NEGATIVE_SCREEN,
                                     statements=[med_statement("bup", BUP_NALOXONE, status="completed", end=40)]))
    assert [c["indicator"] for c in cards(body, RULE)] == ["warning"]


@pytest.mark.parametrize("key", ["medicationRequests", "medicationStatements"])
def test_silent_when_medications_unavailable(client: Client, key: str) -> None:
    body = post(client, hook_request(conditions=[condition("oud", OUD)], urine_screens=NEGATIVE_SCREEN,
                                     unavailable=[key]))
    assert cards(body, RULE) == []


@pytest.mark.parametrize("text", ["Naloxon 3 mg Retardtabletten", "naloxone 5 mg prolonged-release oral tablet"])
def test_oral_naloxone_is_no_rescue(client: Client, text: str) -> None:
    """Naloxone by mouth (a laxative for opioid-induced constipation, ATC A06AH04; first-pass ~2 %) does not
    reverse an overdose: the warning stays. A nasal spray on the same list silences it (the control)."""
    oral = med_statement("nlx-oral", NALOXONE_SPRAY, status="active", start=30)
    oral["medicationCodeableConcept"] = {"text": text}
    base = {"conditions": [condition("oud", OUD)], "urine_screens": NEGATIVE_SCREEN}
    body = post(client, hook_request(**base, statements=[oral]))
    assert rule_ids(body) == [(RULE, "warning")]
    spray = med_statement("nlx", NALOXONE_SPRAY, status="active", start=30)
    assert cards(post(client, hook_request(**base, statements=[oral, spray])), RULE) == []
