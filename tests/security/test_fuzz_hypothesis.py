"""Property-based fuzzing of the hook and feedback endpoints (in-process app, auth off).

Requests are generated from the CDS Hooks request shapes (`cds_service.hooks.models`) and by mutating real
fixture requests: fields dropped, replaced or retyped at random depths, random JSON injected into prefetch and
draftOrders. Property: never a 5xx, never an exception; every 4xx is an OperationOutcome with diagnostics; a
200 to a hook is a valid cards response. Deterministic (derandomize) and bounded (max_examples).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cds_validator import assert_valid_cards_response
from tests.security.app_support import FIXTURES, assert_outcome
from tests.security.fuzz_support import CountingClient, fuzz_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

SCENARIOS = ["cirrhosis-active", "urine-positive", "buprenorphine-ended-9-days", "sandbox-bup-naloxone-film",
             "duplicate-lybalvi", "liver-records-ignored"]
BASES: list[tuple[str, dict]] = []
for _scenario in SCENARIOS:
    for _hook in ("order-sign", "order-select"):
        _path = FIXTURES / _scenario / f"{_hook}.json"
        if _path.exists():
            BASES.append((f"naltrexone-{_hook}", json.loads(_path.read_text())))
SERVICES = ["naltrexone-order-sign", "naltrexone-order-select"]


@pytest.fixture(scope="module")
def fuzz(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CountingClient]:
    yield from fuzz_client(request, tmp_path_factory, "hypothesis fuzz")


# ------------------------------------------------------------------------------------------ strategies

odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\u0000", "\u202e", "\ufeff", "\U0001f48a", "Patient/other", "Patient/",
                     "MedicationRequest/cirr-nal-draft", "Medication/#x", "#contained", "2026-11-25",
                     "2026-11-25T10:00:00Z", "2026-02-30", "99999-01-01", "active", "draft", "order", "NaN",
                     "http://www.nlm.nih.gov/research/umls/rxnorm", "1483744", "x" * 300]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64),
                    st.floats(allow_nan=False, allow_infinity=False), odd_text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.one_of(odd_text, st.sampled_from(
                                   ["resourceType", "id", "subject", "entry", "resource", "code", "coding",
                                    "status", "reference", "medicationReference"])), children, max_size=4)),
    max_leaves=20,
)
resource_types = st.sampled_from(["MedicationRequest", "Condition", "Observation", "Medication", "Patient",
                                  "MedicationStatement", "MedicationDispense", "AllergyIntolerance", "Bundle",
                                  "OperationOutcome", "Unknown"])
fhir_resources = st.fixed_dictionaries(
    {"resourceType": resource_types},
    optional={"id": odd_text, "status": odd_text, "subject": st.one_of(json_values, st.fixed_dictionaries(
        {"reference": st.sampled_from(["Patient/pt-cirrhosis-active", "Patient/other", "Patient/"])})),
              "code": json_values, "medicationCodeableConcept": json_values, "medicationReference": json_values,
              "entry": st.lists(st.fixed_dictionaries({"resource": json_values}), max_size=3),
              "valueQuantity": json_values, "effectiveDateTime": odd_text, "authoredOn": odd_text,
              "dosageInstruction": json_values, "ingredient": json_values, "clinicalStatus": json_values},
)
bundles = st.fixed_dictionaries({"resourceType": st.just("Bundle")}, optional={
    "entry": st.one_of(st.lists(st.one_of(st.fixed_dictionaries({"resource": fhir_resources}), json_values),
                                max_size=4), json_values),
    "link": json_values, "type": odd_text})
prefetch_values = st.one_of(st.none(), bundles, fhir_resources, json_values)
prefetch_keys = st.sampled_from(["patient", "conditions", "medicationRequests", "medicationStatements",
                                 "medicationDispenses",
                                 "medicationAdministrations", "liverTests", "urineDrugScreens", "allergies", "other"])

# HookRequest / HookContext / FhirAuthorization of cds_service.hooks.models, every field optional or retyped
hook_requests = st.fixed_dictionaries(
    {},
    optional={
        "hook": st.one_of(st.sampled_from(["order-sign", "order-select", "patient-view"]), json_values),
        "hookInstance": st.one_of(st.uuids().map(str), json_values),
        "fhirServer": st.one_of(st.sampled_from(["http://127.0.0.1:9/fhir", "https://ehr.invalid/fhir",
                                                 "ftp://x", "not a url", "http://[::1"]), json_values),
        "fhirAuthorization": st.one_of(st.fixed_dictionaries({"access_token": st.just("test-token")}, optional={
            "token_type": st.sampled_from(["Bearer", "bearer", "MAC"]), "expires_in": json_values,
            "scope": json_values, "subject": json_values}), json_values),
        "context": st.one_of(st.fixed_dictionaries({}, optional={
            "patientId": st.one_of(st.just("pt-cirrhosis-active"), json_values),
            "userId": st.one_of(st.just("Practitioner/example"), json_values),
            "encounterId": json_values,
            "selections": st.one_of(st.lists(st.sampled_from(["MedicationRequest/cirr-nal-draft",
                                                              "MedicationRequest/x"]), max_size=2), json_values),
            "draftOrders": st.one_of(bundles, json_values),
        }), json_values),
        "prefetch": st.one_of(st.dictionaries(prefetch_keys, prefetch_values, max_size=4), json_values),
        "extension": json_values,
    },
)

feedback_entries = st.fixed_dictionaries({}, optional={
    "card": st.one_of(st.uuids().map(str), json_values),
    "outcome": st.one_of(st.sampled_from(["accepted", "overridden"]), json_values),
    "acceptedSuggestions": st.one_of(st.lists(st.fixed_dictionaries({"id": odd_text}), max_size=2), json_values),
    "overrideReason": st.one_of(st.fixed_dictionaries({}, optional={
        "reason": st.one_of(st.fixed_dictionaries({"system": odd_text, "code": odd_text}), json_values),
        "userComment": json_values}), json_values),
    "outcomeTimestamp": st.one_of(st.sampled_from(["2026-11-25T16:33:03Z", "2026-11-25T16:33:03+25:00",
                                                   "2026-11-25", "0000-01-01T00:00:00Z"]), json_values),
})
feedback_requests = st.one_of(
    st.fixed_dictionaries({"feedback": st.lists(feedback_entries, min_size=0, max_size=3)}),
    st.fixed_dictionaries({"feedback": json_values}),
    json_values,
)


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _retype(value: Any) -> Any:
    if isinstance(value, str):
        return [value] if len(value) % 2 else {"value": value}
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return value[0] if value else {}
    if isinstance(value, dict):
        return list(value.values())
    return 0


@st.composite
def mutated_fixture_requests(draw: st.DrawFn) -> tuple[str, Any]:
    service, base = draw(st.sampled_from(BASES))
    request = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = list(_paths(request))[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = request
        for p in path[:-1]:
            parent = parent[p]
        action = draw(st.sampled_from(["drop", "replace", "retype", "inject-prefetch", "inject-draft"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "retype":
            parent[path[-1]] = _retype(parent[path[-1]])
        elif action == "inject-prefetch" and isinstance(request.get("prefetch"), dict):
            request["prefetch"][draw(prefetch_keys)] = draw(prefetch_values)
        elif action == "inject-draft":
            draft = request.get("context", {}).get("draftOrders") if isinstance(request.get("context"), dict) \
                else None
            if isinstance(draft, dict) and isinstance(draft.get("entry"), list):
                draft["entry"].insert(draw(st.integers(0, len(draft["entry"]))),
                                      {"resource": draw(st.one_of(fhir_resources, json_values))})
    return service, request


def check_hook_response(response: Any) -> None:
    assert response.status_code < 500, response.text[:1000]
    if response.status_code == 200:
        assert_valid_cards_response(response.json())
    else:
        assert response.status_code in (400, 404, 412, 413, 415), response.status_code
        assert_outcome(response, response.status_code)


# ------------------------------------------------------------------------------------------ properties


@FUZZ
@given(case=mutated_fixture_requests())
def test_mutated_fixture_requests_never_500(fuzz: CountingClient, case: tuple[str, Any]) -> None:
    service, request = case
    check_hook_response(fuzz.post_json(f"/cds-services/{service}", request))


@FUZZ
@given(service=st.sampled_from(SERVICES), request=hook_requests)
def test_model_shaped_requests_never_500(fuzz: CountingClient, service: str, request: Any) -> None:
    check_hook_response(fuzz.post_json(f"/cds-services/{service}", request))


@FUZZ
@given(base=st.sampled_from(BASES), injected=st.dictionaries(prefetch_keys, prefetch_values, min_size=1, max_size=3),
       drafts=st.lists(st.one_of(fhir_resources, json_values), max_size=3))
def test_random_prefetch_and_draft_orders_never_500(fuzz: CountingClient, base: tuple[str, dict],
                                                    injected: dict, drafts: list) -> None:
    service, request = base[0], copy.deepcopy(base[1])
    request.setdefault("prefetch", {}).update(injected)
    request["context"]["draftOrders"].setdefault("entry", []).extend({"resource": d} for d in drafts)
    check_hook_response(fuzz.post_json(f"/cds-services/{service}", request))


@FUZZ
@given(service=st.sampled_from(SERVICES), body=feedback_requests)
def test_feedback_never_500(fuzz: CountingClient, service: str, body: Any) -> None:
    response = fuzz.post_json(f"/cds-services/{service}/feedback", body)
    assert response.status_code < 500, response.text[:1000]
    if response.status_code != 200:
        assert response.status_code == 400, response.status_code
        assert_outcome(response, 400)


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(service=st.sampled_from(SERVICES), body=st.binary(max_size=200),
       content_type=st.sampled_from(["application/json", "application/fhir+json", "text/plain", ""]))
def test_raw_bytes_never_500(fuzz: CountingClient, service: str, body: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for path in (f"/cds-services/{service}", f"/cds-services/{service}/feedback"):
        response = fuzz.post(path, content=body, headers=headers)
        assert response.status_code < 500, response.text[:1000]
        assert_outcome(response, response.status_code)
