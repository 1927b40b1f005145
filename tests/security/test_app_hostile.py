"""Hostile input through HTTP (in-process, auth off): every answer is the expected 4xx OperationOutcome or a
200 with valid cards, never a 500."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.cds_validator import assert_valid_cards_response
from tests.conftest import make_settings
from tests.security.app_support import SERVICE_ID, assert_not_server_error, assert_outcome, load_request

SIGN = f"/cds-services/{SERVICE_ID}"
SELECT = "/cds-services/naltrexone-order-select"
FEEDBACK = f"{SIGN}/feedback"
MAX_BODY = 200_000


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, max_body_bytes=MAX_BODY)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def big_http(tmp_path: Path) -> Iterator[TestClient]:
    """Default body limit (5 MB): room for a 1 MB string inside a valid request."""
    with TestClient(create_app(make_settings(tmp_path)), raise_server_exceptions=False) as client:
        yield client


def rules(response: Any) -> dict[str, str]:
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert_valid_cards_response(body)
    return {c["source"]["topic"]["code"]: c["indicator"] for c in body["cards"]}


# --------------------------------------------------------------------------------------------- size, depth, types


def test_content_length_over_limit_is_413(http: TestClient) -> None:
    body = b'{"a": "' + b"x" * (MAX_BODY + 10) + b'"}'
    r = http.post(SIGN, content=body, headers={"Content-Type": "application/json"})
    assert_outcome(r, 413, "larger than the limit")
    assert r.json()["issue"][0]["code"] == "too-long"


def test_chunked_body_over_limit_is_413(http: TestClient) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        yield b'{"hook": "order-sign", "pad": "'
        for _ in range(100):
            sent.append(1)
            yield b"y" * 10_000
        yield b'"}'

    r = http.post(SIGN, content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_outcome(r, 413, "larger than the limit")


def test_feedback_over_limit_is_413(http: TestClient) -> None:
    r = http.post(FEEDBACK, content=b"[" + b"1," * MAX_BODY + b"1]", headers={"Content-Type": "application/json"})
    assert_outcome(r, 413)


def test_json_nested_10000_deep_is_400(http: TestClient) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    r = http.post(SIGN, content=deep, headers={"Content-Type": "application/json"})
    assert_outcome(r, 400)
    assert "nested deeper" in r.json()["issue"][0]["diagnostics"] or "not valid JSON" in r.text
    deep_obj = '{"a":' * 10_000 + "1" + "}" * 10_000
    r = http.post(SIGN, content=deep_obj, headers={"Content-Type": "application/json"})
    assert_outcome(r, 400)


def test_json_nested_just_over_a_configured_limit_is_400_nested_deeper(tmp_path: Path) -> None:
    request = load_request()
    value: Any = "leaf"
    for _ in range(70):
        value = {"x": value}
    request["extension"] = value
    with TestClient(create_app(make_settings(tmp_path, max_json_depth=64)), raise_server_exceptions=False) as http:
        r = http.post(SIGN, json=request)
        assert_outcome(r, 400, "nested deeper")
    (tmp_path / "default").mkdir()
    with TestClient(create_app(make_settings(tmp_path / "default")), raise_server_exceptions=False) as http:
        assert http.post(SIGN, json=request).status_code == 200  # the default is the parser's own 1024


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", ""])
@pytest.mark.parametrize("path", [SIGN, FEEDBACK])
def test_non_json_content_types_are_415(http: TestClient, content_type: str, path: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    r = http.post(path, content=json.dumps(load_request()).encode(), headers=headers)
    assert_outcome(r, 415, "Content-Type")


def test_fhir_json_content_type_is_accepted(http: TestClient) -> None:
    r = http.post(SIGN, content=json.dumps(load_request()), headers={"Content-Type": "application/fhir+json"})
    assert "liver-disease" in rules(r)


# --------------------------------------------------------------------------------------------- malformed bodies

RAW_BODIES = {
    "empty": b"",
    "whitespace": b"  \n ",
    "invalid-json": b'{"hook": ',
    "trailing-garbage": b'{"hook": "order-sign"} xx',
    "array": b"[]",
    "array-of-request": b"[" + json.dumps(load_request()).encode() + b"]",
    "number": b"42",
    "string": b'"order-sign"',
    "null": b"null",
    "true": b"true",
    "nan": b"NaN",
    "bom": b"\xef\xbb\xbf{}",
    "invalid-utf8": b'{"hook": "\xff\xfe"}',
    "lone-surrogate-raw": b'{"hook": "order-sign", "hookInstance": "\xed\xa0\x80"}',
    "lone-surrogate-escape": b'{"hook": "order-sign", "hookInstance": "\\ud800"}',
    "nul-byte": b'{"hook": "order-sign\x00"}',
    "huge-number": b'{"hook": "order-sign", "hookInstance": 1' + b"0" * 5000 + b"}",
}


@pytest.mark.parametrize("name", sorted(RAW_BODIES))
@pytest.mark.parametrize("path", [SIGN, SELECT, FEEDBACK])
def test_malformed_bodies_are_400(http: TestClient, name: str, path: str) -> None:
    r = http.post(path, content=RAW_BODIES[name], headers={"Content-Type": "application/json"})
    assert_outcome(r, 400)


def test_unknown_service_is_404(http: TestClient) -> None:
    for path in ("/cds-services/nope", "/cds-services/nope/feedback", "/cds-services/%00%ff",
                 "/cds-services/" + "x" * 5000):
        r = http.post(path, json=load_request())
        assert_outcome(r, 404)


# --------------------------------------------------------------------------------------------- envelope


def _mutated(mutate: Callable[[dict], Any], scenario: str = "cirrhosis-active",
             name: str = "order-sign.json") -> dict:
    request = load_request(scenario, name)
    mutate(request)
    return request


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def apply(request: dict) -> None:
        *parents, last = path.split(".")
        node: Any = request
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return apply


_DELETE = object()
PATIENT = "pt-cirrhosis-active"

# name -> (mutation, expected status, text the diagnostics contain)
ENVELOPE: dict[str, tuple[Callable[[dict], None], int, str | None]] = {
    "wrong-hook": (_set("hook", "order-select"), 400, "answers the 'order-sign' hook"),
    "hook-number": (_set("hook", 7), 400, "hook"),
    "hook-missing": (_set("hook", _DELETE), 400, "hook"),
    "hookInstance-missing": (_set("hookInstance", _DELETE), 400, "hookInstance"),
    "hookInstance-huge": (_set("hookInstance", "h" * 100_000), 400, "hookInstance"),
    "context-missing": (_set("context", _DELETE), 400, "context"),
    "context-list": (_set("context", []), 400, "context"),
    "context-string": (_set("context", "x"), 400, "context"),
    "patientId-missing": (_set("context.patientId", _DELETE), 400, "patientId"),
    "patientId-number": (_set("context.patientId", 12345), 400, "patientId"),
    "patientId-empty": (_set("context.patientId", "  "), 400, "patientId"),
    "patientId-object": (_set("context.patientId", {"id": PATIENT}), 400, "patientId"),
    "draftOrders-missing": (_set("context.draftOrders", _DELETE), 400, "draftOrders"),
    "draftOrders-not-bundle": (_set("context.draftOrders", {"resourceType": "MedicationRequest"}), 400,
                               "draftOrders"),
    "draftOrders-list": (_set("context.draftOrders", []), 400, "draftOrders"),
    "draftOrders-string": (_set("context.draftOrders", "Bundle"), 400, "draftOrders"),
    "draftOrders-entry-string": (_set("context.draftOrders.entry", "entries"), 400, "entry"),
    "draftOrders-entry-number": (_set("context.draftOrders.entry", 3), 400, "entry"),
    "prefetch-list": (_set("prefetch", []), 400, "prefetch"),
    "prefetch-string": (_set("prefetch", "x"), 400, "prefetch"),
    "prefetch-value-string": (_set("prefetch.conditions", "Condition?patient=x"), 400, "prefetch.conditions"),
    "prefetch-value-number": (_set("prefetch.conditions", 7), 400, "prefetch.conditions"),
    "prefetch-value-list": (_set("prefetch.conditions", [{"resourceType": "Condition"}]), 400,
                            "prefetch.conditions"),
    "prefetch-value-no-resourceType": (_set("prefetch.conditions", {"entry": []}), 400, "prefetch.conditions"),
    "prefetch-value-resourceType-list": (_set("prefetch.conditions", {"resourceType": ["Bundle"]}), 400,
                                         "prefetch.conditions"),
    "fhirAuthorization-without-fhirServer": (
        lambda r: (r.pop("fhirServer", None), r.update(fhirAuthorization={
            "access_token": "test-token", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read",
            "subject": "cds"})), 400, "fhirServer"),
    "fhirAuthorization-not-object": (_set("fhirAuthorization", "test-token"), 400, "fhirAuthorization"),
    "fhirAuthorization-no-token": (_set("fhirAuthorization", {"token_type": "Bearer"}), 400, "access_token"),
    "fhirServer-number": (_set("fhirServer", 5), 400, "fhirServer"),
    # a draft's medication[x] of the wrong type: never read as "no medicine" (a silent all-clear)
    "draft-medicationCodeableConcept-number": (
        _set("context.draftOrders.entry.0.resource.medicationCodeableConcept", 5), 400,
        "entry[0].resource.medicationCodeableConcept"),
    "draft-medicationCodeableConcept-string": (
        _set("context.draftOrders.entry.0.resource.medicationCodeableConcept", "naltrexone"), 400,
        "medicationCodeableConcept must be a FHIR CodeableConcept"),
    "draft-medicationCodeableConcept-coding-string": (
        _set("context.draftOrders.entry.0.resource.medicationCodeableConcept.coding", "1483744"), 400,
        "medicationCodeableConcept"),
    "draft-medicationReference-list": (
        _set("context.draftOrders.entry.0.resource.medicationReference", ["Medication/x"]), 400,
        "entry[0].resource.medicationReference"),
    "draft-medicationReference-reference-number": (
        _set("context.draftOrders.entry.0.resource.medicationReference", {"reference": 7}), 400,
        "medicationReference must be a FHIR Reference"),
}


@pytest.mark.parametrize("name", sorted(ENVELOPE))
def test_bad_envelope_is_400_naming_the_field(http: TestClient, name: str) -> None:
    mutate, status, contains = ENVELOPE[name]
    r = http.post(SIGN, json=_mutated(mutate))
    diagnostics = assert_outcome(r, status, contains)
    assert "test-token" not in diagnostics


@pytest.mark.parametrize("selections", [_DELETE, [], "MedicationRequest/x", [1], [""], None, {"a": 1}])
def test_order_select_without_valid_selections_is_400(http: TestClient, selections: Any) -> None:
    r = http.post(SELECT, json=_mutated(_set("context.selections", selections), name="order-select.json"))
    assert_outcome(r, 400, "selections")


def test_order_select_selection_of_nothing_is_200(http: TestClient) -> None:
    r = http.post(SELECT, json=_mutated(_set("context.selections", ["MedicationRequest/none"]),
                                        name="order-select.json"))
    assert rules(r) == {}


# --------------------------------------------------------------------------------------------- prefetch contents


def test_condition_under_medication_requests_is_not_a_500(http: TestClient) -> None:
    def mutate(r: dict) -> None:
        r["prefetch"]["medicationRequests"] = copy.deepcopy(r["prefetch"]["conditions"])
    assert "liver-disease" in rules(http.post(SIGN, json=_mutated(mutate)))


def test_resources_of_every_wrong_type_under_every_key(http: TestClient) -> None:
    request = load_request()
    conditions = request["prefetch"]["conditions"]
    for key in list(request["prefetch"]):
        for value in (conditions, {"resourceType": "Patient", "id": "other"},
                      {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Medication"}}]},
                      {"resourceType": "Bundle", "entry": [{"resource": "x"}, 1, None, {"resource": []}]},
                      {"resourceType": "Bundle", "entry": {"resource": {"resourceType": "Observation"}}},
                      {"resourceType": "Unknown", "id": 5}):
            mutated = copy.deepcopy(request)
            mutated["prefetch"][key] = value
            r = http.post(SIGN, json=mutated)
            assert r.status_code in (200, 412), (key, value, r.status_code, r.text[:300])
            if r.status_code == 200:
                rules(r)
            else:
                assert_outcome(r, 412)


def test_operation_outcome_under_a_key(http: TestClient) -> None:
    def mutate(r: dict) -> None:
        r["prefetch"]["liverTests"] = {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "timeout", "diagnostics": "upstream timed out"}]}
    found = rules(http.post(SIGN, json=_mutated(mutate)))
    assert "liver-disease" in found  # the conditions still arrived


def test_operation_outcome_under_every_key_is_412(http: TestClient) -> None:
    def mutate(r: dict) -> None:
        for key in r["prefetch"]:
            r["prefetch"][key] = {"resourceType": "OperationOutcome", "issue": "not a list"}
    assert_outcome(http.post(SIGN, json=_mutated(mutate)), 412)


def test_a_1mb_string_in_a_display(big_http: TestClient) -> None:
    def mutate(r: dict) -> None:
        cond = r["prefetch"]["conditions"]["entry"][1]["resource"]
        cond["code"]["coding"][0]["display"] = "A" * 1_000_000
        cond["code"]["text"] = "B" * 1_000_000
        r["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"]["text"] = "C" * 1_000_000
    r = big_http.post(SIGN, json=_mutated(mutate))
    assert "liver-disease" in rules(r)
    # NOTE: card `detail` currently echoes the whole display (about 2 MB back); summaries stay within 140
    assert all(len(c["summary"]) < 140 for c in r.json()["cards"])


ODD = ["\u202eredro\u202c", "\u200f\u200e", "a\u0000b", "\U0001f48a\U0001f37a", "e\u0301", "\ufeff", "\u2028\u2029",
       "../../etc/passwd", "<script>alert(1)</script>", "%00", "\\", "x" * 300]


@pytest.mark.parametrize("odd", ODD, ids=range(len(ODD)))
def test_unicode_oddities_in_ids_and_displays(http: TestClient, odd: str) -> None:
    def mutate(r: dict) -> None:
        draft = r["context"]["draftOrders"]["entry"][0]["resource"]
        draft["id"] = odd
        draft["medicationCodeableConcept"]["coding"][0]["display"] = odd
        cond = r["prefetch"]["conditions"]["entry"][1]["resource"]
        cond["id"] = odd
        cond["code"]["text"] = odd
        r["context"]["encounterId"] = odd
        r["context"]["userId"] = odd
    r = http.post(SIGN, json=_mutated(mutate))
    assert_not_server_error(r)
    assert r.status_code == 200
    assert "liver-disease" in rules(r)


@pytest.mark.parametrize("odd", ODD, ids=range(len(ODD)))
def test_unicode_oddities_in_patient_id_and_hook_instance(http: TestClient, odd: str) -> None:
    r = http.post(SIGN, json=_mutated(lambda r: r.update(hookInstance=odd)))
    assert r.status_code in (200, 400), r.text[:300]
    r = http.post(SIGN, json=_mutated(lambda r: r["context"].update(patientId=odd)))
    assert r.status_code in (200, 400), r.text[:300]
    if r.status_code == 200:
        assert "liver-disease" not in rules(r)  # the resources name another patient


def test_lone_surrogate_in_a_display_via_raw_bytes(http: TestClient) -> None:
    body = json.dumps(load_request()).replace("Alcoholic cirrhosis of liver", "\\udc80 cirrhosis \\ud83d")
    r = http.post(SIGN, content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400), r.text[:300]
    if r.status_code == 400:
        assert_outcome(r, 400, "not valid JSON")
    raw = json.dumps(load_request()).encode().replace(b"cirrhosis of liver", b"\xed\xb2\x80 of liver")
    assert_outcome(http.post(SIGN, content=raw, headers={"Content-Type": "application/json"}), 400)


def test_duplicate_resource_ids(http: TestClient) -> None:
    def mutate(r: dict) -> None:
        entries = r["prefetch"]["conditions"]["entry"]
        entries.extend(copy.deepcopy(entries) * 3)
        r["prefetch"]["medicationRequests"]["entry"] = copy.deepcopy(entries)
        drafts = r["context"]["draftOrders"]["entry"]
        drafts.extend(copy.deepcopy(drafts) * 2)
    found = rules(http.post(SIGN, json=_mutated(mutate)))
    assert found.get("liver-disease") == "critical"


def test_duplicate_draft_ids_with_different_content(http: TestClient) -> None:
    def mutate(r: dict) -> None:
        drafts = r["context"]["draftOrders"]["entry"]
        other = copy.deepcopy(drafts[0])
        other["resource"]["medicationCodeableConcept"] = {"text": "aspirin"}
        drafts.append(other)
    assert_not_server_error(http.post(SIGN, json=_mutated(mutate)))


def test_condition_of_another_patient_is_ignored_and_logged(http: TestClient,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    baseline = rules(http.post(SIGN, json=load_request()))
    assert baseline.get("liver-disease") == "critical"

    def mutate(r: dict) -> None:
        cond = r["prefetch"]["conditions"]["entry"][1]["resource"]
        assert cond["id"] == "cirr-cirrhosis"
        cond["subject"] = {"reference": "Patient/other", "display": "Zelda Quixote-Other"}

    with caplog.at_level(logging.INFO):
        found = rules(http.post(SIGN, json=_mutated(mutate)))
    assert "liver-disease" not in found
    ignored = [rec.getMessage() for rec in caplog.records if "Condition/cirr-cirrhosis" in rec.getMessage()]
    assert ignored and "another patient" in ignored[0], caplog.text
    patient = load_request()["prefetch"]["patient"]
    for name in patient["name"]:
        for part in [name.get("family"), *name.get("given", [])]:
            assert part not in caplog.text
    assert "Zelda" not in caplog.text and "Patient/other" not in caplog.text


def test_draft_order_of_another_patient_is_ignored(http: TestClient) -> None:
    def mutate(r: dict) -> None:
        r["context"]["draftOrders"]["entry"][0]["resource"]["subject"] = {"reference": "Patient/other"}
    r = http.post(SIGN, json=_mutated(mutate))
    assert_not_server_error(r)
    if r.status_code == 200:
        assert "liver-disease" not in rules(r)


def test_subject_of_odd_types(http: TestClient) -> None:
    for subject in (None, "Patient/pt-cirrhosis-active", 5, [], {"reference": 5}, {"reference": ["Patient/x"]},
                    {"reference": "Patient/"}, {"reference": "/"}, {"reference": ""}):
        def mutate(r: dict, subject: Any = subject) -> None:
            r["prefetch"]["conditions"]["entry"][1]["resource"]["subject"] = subject
            r["context"]["draftOrders"]["entry"][0]["resource"]["subject"] = subject
        r = http.post(SIGN, json=_mutated(mutate))
        assert_not_server_error(r)


# --------------------------------------------------------------------------------------------- feedback


@pytest.fixture
def issued_card(http: TestClient) -> dict:
    r = http.post(SIGN, json=load_request())
    return next(c for c in r.json()["cards"] if c["source"]["topic"]["code"] == "liver-disease")


def _fb(**entry: Any) -> dict:
    base = {"card": "00000000-0000-0000-0000-000000000000", "outcome": "overridden",
            "outcomeTimestamp": "2026-11-25T16:33:03Z"}
    base.update(entry)
    return {"feedback": [{k: v for k, v in base.items() if v is not _DELETE}]}


def test_feedback_valid(http: TestClient, issued_card: dict) -> None:
    r = http.post(FEEDBACK, json=_fb(card=issued_card["uuid"]))
    assert r.status_code == 200, r.text


FEEDBACK_BAD: dict[str, Any] = {
    "unknown-card": _fb(),
    "bad-outcome": _fb(outcome="ignored"),
    "outcome-number": _fb(outcome=1),
    "bad-timestamp": _fb(outcomeTimestamp="yesterday"),
    "timestamp-no-zone": _fb(outcomeTimestamp="2026-11-25T16:33:03"),
    "timestamp-date-only": _fb(outcomeTimestamp="2026-11-25"),
    "timestamp-number": _fb(outcomeTimestamp=1764000000),
    "timestamp-huge-year": _fb(outcomeTimestamp="99999-11-25T16:33:03Z"),
    "card-missing": _fb(card=_DELETE),
    "card-empty": _fb(card=""),
    "card-huge": _fb(card="c" * 10_000),
    "accepted-without-suggestions": _fb(outcome="accepted"),
    "accepted-unknown-suggestion": _fb(outcome="accepted", acceptedSuggestions=[{"id": "nope"}]),
    "accepted-suggestions-strings": _fb(outcome="accepted", acceptedSuggestions=["nope"]),
    "override-reason-string": _fb(overrideReason="because"),
    "feedback-empty": {"feedback": []},
    "feedback-object": {"feedback": {"card": "x"}},
    "feedback-missing": {},
    "feedback-too-many": {"feedback": _fb()["feedback"] * 501},
}


@pytest.mark.parametrize("name", sorted(FEEDBACK_BAD))
def test_bad_feedback_is_400(http: TestClient, issued_card: dict, name: str) -> None:
    body = copy.deepcopy(FEEDBACK_BAD[name])
    if name.startswith(("bad-", "timestamp-", "outcome-", "accepted-", "override-")):
        for entry in body["feedback"]:
            entry["card"] = issued_card["uuid"]
    assert_outcome(http.post(FEEDBACK, json=body), 400)


def test_feedback_with_odd_override_reasons(http: TestClient, issued_card: dict) -> None:
    for reason in ({"reason": {"system": "x", "code": "y"}}, {"reason": None}, {"userComment": "\u0000" * 10},
                   {"reason": {"system": "x"}}, {"userComment": "z" * 100_000}):
        r = http.post(FEEDBACK, json=_fb(card=issued_card["uuid"], overrideReason=reason))
        assert_not_server_error(r)
