"""duplicate-antagonist and allergy through HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import Client
from tests.rules.naltrexone.builders import (
    BUPROPION_IN,
    CONTRAVE,
    EMBEDA,
    LYBALVI,
    NALTREXONE_50,
    NALTREXONE_IN,
    VIVITROL,
    actions,
    allergy,
    cards,
    draft,
    hook_request,
    med_request,
    med_statement,
    one,
    post,
    rule_ids,
)

DUPLICATE = "duplicate-antagonist"
ALLERGY = "allergy"


@pytest.mark.parametrize("product", [LYBALVI, NALTREXONE_50, CONTRAVE, VIVITROL])
def test_duplicate_with_current_antagonist(client: Client, product: tuple[str, str]) -> None:
    body = post(client, hook_request(requests=[med_request("other", product, status="active", authored=20)]))
    assert rule_ids(body) == [(DUPLICATE, "warning")]
    card = one(body, DUPLICATE)
    assert "`MedicationRequest/other`" in card["detail"]
    assert "naltrexone" in card["summary"] and len(card["summary"]) < 140
    [delete] = actions(card, "delete")
    assert delete["resourceId"] == "MedicationRequest/nal-draft"
    assert card["overrideReasons"]


@pytest.mark.parametrize(("product", "status"), [(EMBEDA, "active"), (NALTREXONE_50, "completed"),
                                                 (LYBALVI, "stopped")])
def test_no_duplicate(client: Client, product: tuple[str, str], status: str) -> None:
    body = post(client, hook_request(requests=[med_request("other", product, status=status, authored=100)]))
    assert cards(body, DUPLICATE) == []


def test_duplicate_draft_in_same_session(client: Client) -> None:
    request = hook_request(drafts=[draft(), draft("xr-draft", VIVITROL, mg=380)])
    body = post(client, request)
    found = cards(body, DUPLICATE)
    assert len(found) == 2  # one card per checked order
    details = sorted(c["detail"] for c in found)
    assert any("`MedicationRequest/xr-draft`" in d for d in details)
    assert any("`MedicationRequest/nal-draft`" in d for d in details)
    assert sorted(a["resourceId"] for c in found for a in actions(c, "delete")) == [
        "MedicationRequest/nal-draft", "MedicationRequest/xr-draft"]
    select = hook_request(drafts=[draft(), draft("xr-draft", VIVITROL, mg=380)], hook="order-select",
                          selections=["MedicationRequest/nal-draft"])
    [card] = cards(post(client, select), DUPLICATE)
    assert "`MedicationRequest/xr-draft`" in card["detail"]


def test_current_statement_counts(client: Client) -> None:
    body = post(client, hook_request(statements=[med_statement("lyb", LYBALVI, status="active", start=30)]))
    assert "`MedicationStatement/lyb`" in one(body, DUPLICATE)["detail"]


# --- allergy ---------------------------------------------------------------------------------------------------
def test_allergy_critical(client: Client) -> None:
    body = post(client, hook_request(allergies=[allergy("alg")]))
    assert rule_ids(body) == [(ALLERGY, "critical")]
    card = one(body, ALLERGY)
    assert "`AllergyIntolerance/alg`" in card["detail"]
    assert "naltrexone" in card["summary"].lower() and len(card["summary"]) < 140
    [delete] = actions(card, "delete")
    assert delete["resourceId"] == "MedicationRequest/nal-draft"
    assert card["overrideReasons"]


@pytest.mark.parametrize(("clinical", "verification"), [("active", "refuted"), ("active", "entered-in-error"),
                                                        ("inactive", "confirmed"), ("resolved", "confirmed")])
def test_allergy_not_active(client: Client, clinical: str, verification: str) -> None:
    body = post(client, hook_request(allergies=[allergy("alg", clinical=clinical, verification=verification)]))
    assert cards(body, ALLERGY) == []


def test_allergy_to_other_ingredient_of_the_product(client: Client) -> None:
    contrave = post(client, hook_request(drafts=draft("ctv", CONTRAVE, mg=None),
                                         allergies=[allergy("bup-alg", BUPROPION_IN)]))
    card = one(contrave, ALLERGY)
    assert "`AllergyIntolerance/bup-alg`" in card["detail"] and "bupropion" in card["detail"]
    plain = post(client, hook_request(allergies=[allergy("bup-alg", BUPROPION_IN)]))
    assert cards(plain, ALLERGY) == []


def test_allergy_for_injection(client: Client) -> None:
    body = post(client, hook_request(drafts=draft("xr", VIVITROL, mg=380), allergies=[allergy("alg", NALTREXONE_IN)]))
    card = one(body, ALLERGY)
    assert [link["url"] for link in card["links"]][1].endswith("cd11c435-b0f0-4bb9-ae78-60f101f3703f")
