"""Every fixture scenario, through HTTP: the exact set of rule ids and indicators, their evidence, their words.

Expectations live next to each scenario in `fhir_fixtures/<id>/expected.json`; the service never reads them.
"""

from __future__ import annotations

import pytest

from tests.conftest import Client, load_fixture, scenario_ids

HOOKS = ("order-sign", "order-select")


def _cards_by_rule(body: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for card in body["cards"]:
        out.setdefault(card["source"]["topic"]["code"], []).append(card)
    return out


def check_expectations(body: dict, expected: dict, where: str) -> None:
    got = sorted((c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"])
    want = sorted((c["rule"], c["indicator"]) for c in expected["cards"])
    assert got == want, f"{where}: cards differ\n got: {got}\nwant: {want}"
    by_rule = _cards_by_rule(body)
    for exp in expected["cards"]:
        cards = [c for c in by_rule[exp["rule"]] if c["indicator"] == exp["indicator"]]
        text = "\n".join(c["detail"] + "\n" + c["summary"] for c in cards)
        for ref in exp.get("evidence", []):
            assert f"`{ref}`" in text, f"{where}: {exp['rule']} does not cite {ref}"
        for ref in exp.get("evidence_absent", []):
            assert f"`{ref}`" not in text, f"{where}: {exp['rule']} must not cite {ref}"
        for phrase in exp.get("detail_contains", []):
            assert phrase.lower() in text.lower(), f"{where}: {exp['rule']} lacks '{phrase}'"
    for rule_id in expected.get("absent_rules", []):
        assert rule_id not in by_rule, f"{where}: {rule_id} must not fire"


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("scenario", scenario_ids())
def test_scenario(client: Client, scenario: str, hook: str) -> None:
    """With the prefetch alone: the request's placeholder `fhirServer` is dropped, so nothing can be fetched.

    A scenario whose data needs the FHIR server (a reference no prefetch carries) says what the prefetch alone
    gives in `prefetch-only`; tests/fhir/test_fhir_server.py checks its `order-sign` cards with the server."""
    fixture = load_fixture(scenario, "expected.json")
    expected = fixture.get("prefetch-only", fixture[hook])
    request = load_fixture(scenario, f"{hook}.json")
    request.pop("fhirServer", None)
    response = client.hook(request)
    assert response.status_code == 200, response.text
    check_expectations(response.json(), expected, f"{scenario}/{hook}")
