"""Acceptance: `terminology audit fhir_fixtures/` shows no unclassified code that a rule needs.

A rule needs a code when the resource carrying it is cited as evidence on an expected card. Every such code must be
classified (by itself or a sibling coding), or, for the scenarios about text, recognised from the text with the
card saying so.
"""

from __future__ import annotations

import json

from cds_service.terminology import get_terminology
from cds_service.terminology.audit import audit
from tests.conftest import FIXTURES, scenario_ids


def _coded(resource: dict) -> list[tuple[str, str]]:
    from cds_service.terminology.systems import canonical_or_self

    concept = resource.get("medicationCodeableConcept") or resource.get("code") or {}
    return [(canonical_or_self(c.get("system")) or "(no system)", c["code"]) for c in concept.get("coding", [])
            if c.get("code")]


def test_audit_of_the_fixtures_shows_no_unclassified_code_a_rule_needs():
    report = audit(FIXTURES, get_terminology()).as_json()
    unclassified = {(r["system"], r["code"]) for r in report["unclassified"]}
    text_only = {(r["system"], r["code"]) for r in report["text_only"]}
    assert report["resources"] > 1000 and report["classified"] > 0
    checked = 0
    for scenario in scenario_ids():
        expected = json.loads((FIXTURES / scenario / "expected.json").read_text())
        bundle = json.loads((FIXTURES / scenario / "bundle.json").read_text())
        request = json.loads((FIXTURES / scenario / "order-sign.json").read_text())
        by_ref = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"] for e in bundle["entry"]}
        for key in ("prefetch",):
            for value in (request.get(key) or {}).values():
                for e in (value or {}).get("entry", []) if isinstance(value, dict) else []:
                    r = e["resource"]
                    by_ref.setdefault(f"{r['resourceType']}/{r['id']}", r)
        for hook in ("order-sign", "order-select"):
            for card in expected[hook]["cards"]:
                for ref in card["evidence"]:
                    resource = by_ref.get(ref)
                    if resource is None:
                        continue  # a draft order (classified by the rules themselves)
                    for coding in _coded(resource):
                        checked += 1
                        assert coding not in unclassified, f"{scenario}: {ref} {coding} is unclassified"
                        if coding in text_only:
                            assert any("recognised from" in p for p in card["detail_contains"]), (scenario, ref)
    assert checked > 100
    # and nothing unclassified is something the pack would have recognised from its name
    t = get_terminology()
    for row in report["unclassified"]:
        assert t.medication_from_text(row["display"]) is None or row["kind"] != "medication", row
        assert not t.condition_from_text(row["display"]), row
