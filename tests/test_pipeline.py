"""The pipeline's own decisions: which drafts it reads before and after gathering the patient's data."""

from __future__ import annotations

from tests.conftest import Client
from tests.rules.naltrexone.builders import OXYCODONE, RXNORM, draft, hook_request, rule_ids


def _oxycodone_draft_by_reference(medication_id: str) -> dict:
    order = draft("oxy-draft", OXYCODONE, mg=5)
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": f"Medication/{medication_id}"}
    return order


def _medication(medication_id: str) -> dict:
    return {"resourceType": "Medication", "id": medication_id,
            "code": {"coding": [{"system": RXNORM, "code": OXYCODONE[0], "display": OXYCODONE[1]}]}}


def test_a_draft_resolved_by_the_gathered_data_counts(client: Client) -> None:
    """The naltrexone order is decided from the drafts alone; another draft whose Medication only the prefetch
    holds is read again once the data is gathered, and is then an opioid drafted in the same session."""
    request = hook_request([draft(), _oxycodone_draft_by_reference("oxy")])
    request["prefetch"]["medicationRequests"]["entry"].append({"resource": _medication("oxy")})
    body = client.hook(request).json()
    assert ("opioid-concurrent", "critical") in rule_ids(body)
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "opioid-concurrent")
    assert "`MedicationRequest/oxy-draft`" in card["detail"]


def test_an_unresolvable_draft_is_not_an_opioid(client: Client) -> None:
    request = hook_request([draft(), _oxycodone_draft_by_reference("elsewhere")])
    body = client.hook(request).json()
    assert "opioid-concurrent" not in {rule for rule, _ in rule_ids(body)}


def test_order_select_checks_only_the_selected_order(client: Client) -> None:
    oxy = draft("oxy-draft", OXYCODONE, mg=5)
    # the naltrexone draft is not selected: only the opioid order is checked (against the naltrexone draft)
    select = hook_request([draft(), oxy], hook="order-select", selections=["MedicationRequest/oxy-draft"])
    assert rule_ids(client.hook(select).json()) == [("naltrexone-blocks-opioid", "critical")]
    # selecting an order that is not among the drafts checks nothing
    nothing = hook_request([draft(), oxy], hook="order-select", selections=["MedicationRequest/unknown"])
    assert rule_ids(client.hook(nothing).json()) == []


def _strings(value: object, out: set[int]) -> None:
    if isinstance(value, str):
        out.add(id(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            _strings(k, out)
            _strings(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _strings(v, out)


def test_no_memo_keeps_a_string_of_the_request() -> None:
    """A memo holding one of the request's own strings keeps the parsed request's memory alive (measured:
    ~80 MB after a 20 MB request); every memo must hold copies."""
    import asyncio
    from datetime import date

    import orjson

    from benchmarks import patients
    from cds_service.fhir import read
    from cds_service.pipeline import Pipeline
    from cds_service.record import medications
    from cds_service.rules.registry import default_packs
    from cds_service.settings import Settings

    packs = default_packs()
    pipeline = Pipeline(Settings(auth_mode="off", today=date(2026, 11, 25), database_url="sqlite://"), packs)
    data = orjson.loads(patients.request_bytes(patients.order_sign("typical", seed=4242)))  # fresh strings
    outcome = asyncio.run(pipeline.run("naltrexone-order-sign", data))
    assert outcome.response["cards"]
    request_strings: set[int] = set()
    _strings(data, request_strings)
    kept: set[int] = set()
    for memo in (read._DATES, read._SPANS, medications._identify_concept.memo,  # type: ignore[attr-defined]
                 medications._from_text.memo, medications._BY_CODING,  # type: ignore[attr-defined]
                 *(pack.terminology._memo for pack in packs), *(pack.terminology._answers for pack in packs)):
        _strings(list(memo), kept)
    assert len(kept) > 50  # the memos did remember things from this request...
    assert not kept & request_strings  # ...as copies
