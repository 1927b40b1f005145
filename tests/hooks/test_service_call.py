"""POST /cds-services/{id}: the envelope, prefetch semantics, order-select focus, and clear errors."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import Client, load_fixture


def outcome_of(response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    diagnostics = body["issue"][0]["diagnostics"]
    assert diagnostics
    return diagnostics


def rule_ids(response) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.text
    return sorted((c["source"]["topic"]["code"], c["indicator"]) for c in response.json()["cards"])


@pytest.fixture
def cirrhosis() -> dict:
    return load_fixture("cirrhosis-active", "order-sign.json")


def test_sandbox_request_shape_is_accepted(client: Client) -> None:
    """category as an object, draftOrders without Bundle.type, `1 {pill}` of a 50 mg tablet."""
    request = load_fixture("sandbox-bup-naloxone-film", "order-sign.json")
    draft = request["context"]["draftOrders"]
    assert "type" not in draft and isinstance(draft["entry"][0]["resource"]["category"], dict)
    cards = client.hook(request).json()["cards"]
    concurrent = [c for c in cards if c["source"]["topic"]["code"] == "opioid-concurrent"]
    assert [c["indicator"] for c in concurrent] == ["critical"]
    assert "`MedicationRequest/sbx-bup-film`" in concurrent[0]["detail"]
    assert not [c for c in cards if c["source"]["topic"]["code"] == "low-dose"]
    delete = concurrent[0]["suggestions"][0]["actions"][0]
    assert delete == {"type": "delete", "description": delete["description"],
                      "resourceId": "MedicationRequest/request-123"}


def test_unrelated_order_gets_no_cards_even_without_prefetch(client: Client) -> None:
    request = load_fixture("unrelated-order", "order-sign.json")
    assert client.hook(request).json() == {"cards": []}
    request.pop("prefetch")  # never touched for an unrelated order: no 412 either
    assert client.hook(request).json() == {"cards": []}


def test_order_select_checks_only_the_selections(client: Client) -> None:
    request = load_fixture("draft-opioid-same-session", "order-select.json")
    assert rule_ids(client.hook(request)) == [("opioid-concurrent", "critical")]
    # select the opioid instead: now the reverse rule speaks, about the opioid order
    opioid = next(e["resource"] for e in request["context"]["draftOrders"]["entry"]
                  if "oxy" in e["resource"]["id"])
    request["context"]["selections"] = [f"MedicationRequest/{opioid['id']}"]
    assert rule_ids(client.hook(request)) == [("naltrexone-blocks-opioid", "critical")]


def test_same_request_twice_gives_fresh_uuids(client: Client, cirrhosis: dict) -> None:
    first = client.hook(cirrhosis).json()["cards"]
    second = client.hook(cirrhosis).json()["cards"]
    assert [c["source"]["topic"]["code"] for c in first] == [c["source"]["topic"]["code"] for c in second]
    assert not {c["uuid"] for c in first} & {c["uuid"] for c in second}


def test_null_prefetch_means_known_empty(client: Client, cirrhosis: dict) -> None:
    cirrhosis["prefetch"] = dict.fromkeys(cirrhosis["prefetch"])
    cirrhosis["prefetch"]["patient"] = load_fixture("cirrhosis-active", "order-sign.json")["prefetch"]["patient"]
    ids = [r for r, _i in rule_ids(client.hook(cirrhosis))]
    assert "liver-disease" not in ids and "data-incomplete" not in ids


def test_missing_prefetch_key_without_fhir_server_is_412_naming_it(client: Client, cirrhosis: dict) -> None:
    del cirrhosis["prefetch"]["conditions"]
    cirrhosis.pop("fhirAuthorization", None)
    cirrhosis.pop("fhirServer", None)  # a fhirServer alone is an open server, which would be queried
    response = client.hook(cirrhosis)
    assert response.status_code == 412
    assert "conditions" in outcome_of(response)
    assert response.json()["issue"][0]["expression"] == ["prefetch.conditions"]


def test_operation_outcome_prefetch_is_reported_not_hidden(client: Client, cirrhosis: dict) -> None:
    cirrhosis["prefetch"]["urineDrugScreens"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "lab system unavailable"}]}
    cards = client.hook(cirrhosis).json()["cards"]
    by_rule = {c["source"]["topic"]["code"]: c for c in cards}
    assert by_rule["liver-disease"]["indicator"] == "critical"  # the rest still evaluated
    assert by_rule["data-incomplete"]["indicator"] == "warning"
    assert "urine drug screens" in by_rule["data-incomplete"]["detail"]
    assert "lab system unavailable" in by_rule["data-incomplete"]["detail"]


@pytest.mark.parametrize(("mutate", "status", "words"), [
    (lambda r: r.update(hook="order-select"), 400, "answers the 'order-sign' hook"),
    (lambda r: r.pop("hookInstance"), 400, "hookInstance"),
    (lambda r: r.pop("context"), 400, "context"),
    (lambda r: r["context"].pop("patientId"), 400, "context.patientId"),
    (lambda r: r["context"].pop("draftOrders"), 400, "context.draftOrders"),
    (lambda r: r["context"].update(draftOrders={"resourceType": "MedicationRequest"}), 400, "must be a FHIR Bundle"),
    (lambda r: r["context"].update(draftOrders=[1, 2]), 400, "must be a FHIR Bundle"),
    (lambda r: r.update(prefetch=[1]), 400, "prefetch"),
    (lambda r: r["prefetch"].update(conditions="nope"), 400, "prefetch.conditions"),
    (lambda r: r.update(fhirAuthorization={"access_token": "x", "token_type": "Bearer"}, fhirServer=None), 400,
     "fhirServer"),
])
def test_envelope_errors_are_400_with_a_reason(client: Client, cirrhosis: dict, mutate, status: int,
                                               words: str) -> None:
    request = copy.deepcopy(cirrhosis)
    mutate(request)
    response = client.hook(request, service="naltrexone-order-sign")
    assert response.status_code == status, response.text
    assert words in outcome_of(response)


def test_order_select_requires_selections(client: Client) -> None:
    request = load_fixture("cirrhosis-active", "order-select.json")
    request["context"].pop("selections")
    response = client.hook(request)
    assert response.status_code == 400
    assert "selections" in outcome_of(response)


def test_unknown_service_and_path_are_404(client: Client, cirrhosis: dict) -> None:
    response = client.post("/cds-services/no-such-service", json=cirrhosis)
    assert response.status_code == 404
    assert "naltrexone-order-sign" in outcome_of(response)
    assert client.get("/nowhere").status_code == 404


@pytest.mark.parametrize(("body", "content_type", "status", "words"), [
    (b"{not json", "application/json", 400, "not valid JSON"),
    (b"", "application/json", 400, "empty"),
    (b"[1,2]", "application/json", 400, "JSON object"),
    (b"hook=order-sign", "application/x-www-form-urlencoded", 415, "Content-Type"),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400, "nested deeper"),
])
def test_malformed_bodies(client: Client, body: bytes, content_type: str, status: int, words: str) -> None:
    response = client.post("/cds-services/naltrexone-order-sign", content=body,
                           headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert words in outcome_of(response)


def test_unknown_fields_and_extensions_are_ignored(client: Client, cirrhosis: dict) -> None:
    cirrhosis["extension"] = {"com.example.flag": True}
    cirrhosis["context"]["extension"] = {"com.example.x": 1}
    cirrhosis["somethingNew"] = [1, 2, 3]
    assert ("liver-disease", "critical") in rule_ids(client.hook(cirrhosis))


def test_other_patients_resources_are_ignored(client: Client) -> None:
    request = load_fixture("silent-aud-adult", "order-sign.json")
    request["prefetch"]["conditions"]["entry"].append({"resource": {
        "resourceType": "Condition", "id": "someone-elses-cirrhosis", "subject": {"reference": "Patient/other"},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "19943007"}]}}})
    body = client.hook(request).json()
    assert [(c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"]] == [("data-incomplete", "warning")]
    card = body["cards"][0]
    assert card["summary"] == "Naltrexone check incomplete: 1 record of another patient left out"
    assert ("- Skipped: 1 Condition record (it belongs to another patient than the hook's patient): "
            "`Condition/someone-elses-cirrhosis`.") in card["detail"]
