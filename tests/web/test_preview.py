"""The preview page over HTTP: off by default (404, not in the OpenAPI document), the same cards as the hook
endpoint for every fixture scenario, pasted requests and Bundles, clear errors, and no ledger writes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from cds_service.app import create_app
from cds_service.web.html import CONTENT_SECURITY_POLICY
from tests.conftest import FIXTURES, load_fixture, make_settings, scenario_ids

CARD = re.compile(r'data-rule="([^"]+)" data-indicator="([^"]+)"')


@pytest.fixture
def preview(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, preview=True, preview_fixtures=FIXTURES))
    with TestClient(app) as http:
        yield http


def ledger_rows(http: TestClient) -> int:
    with http.app.state.store.engine.connect() as conn:  # type: ignore[attr-defined]
        return conn.execute(text("SELECT count(*) FROM issued_card")).scalar_one()


def shown_cards(html: str) -> set[tuple[str, str]]:
    return set(CARD.findall(html))


def test_off_by_default_404_and_not_in_openapi(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    with TestClient(app) as http:
        for method in ("get", "post"):
            r = getattr(http, method)("/preview")
            assert r.status_code == 404
            assert r.json()["resourceType"] == "OperationOutcome"
        assert "/preview" not in json.dumps(http.get("/openapi.json").json()["paths"])
    committed = json.loads((Path(__file__).parents[2] / "openapi" / "cds-naltrexone.openapi.json").read_text())
    assert not [p for p in committed["paths"] if "preview" in p]


def test_on_it_stays_out_of_the_openapi_document(preview: TestClient) -> None:
    assert preview.get("/preview").status_code == 200
    assert not [p for p in preview.get("/openapi.json").json()["paths"] if "preview" in p]


def test_page_headers_and_offline_assets(preview: TestClient) -> None:
    r = preview.get("/preview")
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert r.headers["x-frame-options"] == "DENY"
    # every asset is the service's own: no other origin is named anywhere in the page
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', r.text)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', r.text):
        assert preview.get(asset).status_code == 200
    assert "<script" not in r.text  # the preview needs no script at all


@pytest.mark.parametrize("scenario", scenario_ids())
def test_every_scenario_shows_the_expected_cards(preview: TestClient, scenario: str) -> None:
    expected = load_fixture(scenario, "expected.json")
    for hook in ("order-sign", "order-select"):
        r = preview.get("/preview", params={"scenario": scenario, "hook": hook})
        assert r.status_code == 200, r.text
        # a scenario whose data sits on a FHIR server: the preview has only the request (`prefetch-only`)
        source = expected.get("prefetch-only", expected[hook])
        want = {(c["rule"], c["indicator"]) for c in source["cards"]}
        assert shown_cards(r.text) == want, (scenario, hook)
        assert f"Evaluated as of <strong>{expected['today']}</strong>" in r.text
        if not want:
            assert "No cards:" in r.text
    assert ledger_rows(preview) == 0  # a preview is not a card an EHR received


def test_opioid_card_shows_suggestions_override_reasons_source_and_raw_json(preview: TestClient) -> None:
    r = preview.post("/preview", data={"mode": "fixture", "scenario": "oxycodone-active", "hook": "order-sign"})
    assert r.status_code == 200
    html = r.text
    assert ("opioid-concurrent", "critical") in shown_cards(html)
    assert "Remove the naltrexone hydrochloride 50 MG Oral Tablet order" in html
    assert "<code>delete</code> Remove the draft order MedicationRequest/oxyact-nal-draft" in html
    assert '<legend>Override reason</legend>' in html
    assert "Benefit outweighs risk; patient will be monitored" in html
    assert '<a href="https://dailymed.nlm.nih.gov/dailymed/search.cfm?labeltype=all&amp;query=naltrexone"' in html
    assert "<strong>Evidence</strong>" in html and "<code>MedicationRequest/oxyact-oxy</code>" in html
    assert "Raw request" in html and "Raw response (generic)" in html
    assert "&#34;hookInstance&#34;" in html or "&quot;hookInstance&quot;" in html
    assert ledger_rows(preview) == 0


def test_pasted_request_same_cards_as_the_hook_endpoint(preview: TestClient) -> None:
    request = load_fixture("opioid-stopped-3-days", "order-sign.json")
    r = preview.post("/preview", data={"mode": "request", "request": json.dumps(request), "as_of": "2026-11-25"})
    assert r.status_code == 200
    hook = preview.post("/cds-services/naltrexone-order-sign", json=request).json()
    assert shown_cards(r.text) == {(c["source"]["topic"]["code"], c["indicator"]) for c in hook["cards"]}
    assert ("opioid-washout", "critical") in shown_cards(r.text)
    assert ledger_rows(preview) == len(hook["cards"])  # only the hook call wrote


def test_pasted_bundle_and_draft_order(preview: TestClient) -> None:
    bundle = load_fixture("cirrhosis-active", "bundle.json")
    order = load_fixture("cirrhosis-active", "order-sign.json")["context"]["draftOrders"]["entry"][0]["resource"]
    for hook in ("order-sign", "order-select"):
        r = preview.post("/preview", data={"mode": "bundle", "bundle": json.dumps(bundle), "order": json.dumps(order),
                                           "hook": hook, "as_of": "2026-11-25"})
        assert r.status_code == 200, r.text
        want = {(c["rule"], c["indicator"]) for c in load_fixture("cirrhosis-active", "expected.json")[hook]["cards"]}
        assert shown_cards(r.text) == want


@pytest.mark.parametrize(("form", "message"), [
    ({"mode": "request", "request": "{not json"}, "is not valid JSON"),
    ({"mode": "request", "request": "[1, 2]"}, "must be a JSON object"),
    ({"mode": "request", "request": ""}, "Paste a CDS Hooks request"),
    ({"mode": "request", "request": "{}", "as_of": "25/11/2026"}, "must be a date like 2026-11-25"),
    ({"mode": "fixture", "scenario": "../../etc", "hook": "order-sign"}, "Choose one of the listed scenarios"),
    ({"mode": "bundle", "bundle": '{"resourceType": "Patient"}', "order": "{}", "hook": "order-sign"},
     "must be a FHIR Bundle"),
    ({"mode": "bundle", "bundle": '{"resourceType": "Bundle", "entry": []}', "order": '{"resourceType": "X"}',
      "hook": "order-sign"}, "no Patient"),
    ({"mode": "bundle", "bundle": "{}", "order": "{}", "hook": "patient-view"}, "Choose the hook"),
    ({"mode": "nonsense"}, "Choose what to preview"),
])
def test_bad_input_gets_a_clear_message(preview: TestClient, form: dict, message: str) -> None:
    r = preview.post("/preview", data=form)
    assert r.status_code == 400
    assert 'role="alert"' in r.text and message in r.text
    assert "Traceback" not in r.text


def test_the_service_errors_are_shown_as_the_hook_endpoint_would_answer_them(preview: TestClient) -> None:
    request = load_fixture("oxycodone-active", "order-sign.json")
    del request["prefetch"]
    request.pop("fhirServer", None)
    r = preview.post("/preview", data={"mode": "request", "request": json.dumps(request)})
    assert r.status_code == 200
    assert "The service would answer HTTP 412" in r.text
    wrong = {**load_fixture("oxycodone-active", "order-sign.json"), "hook": "patient-view"}
    r = preview.post("/preview", data={"mode": "request", "request": json.dumps(wrong)})
    assert "The service would answer HTTP 400" in r.text and "No service answers the hook" in r.text


def test_form_must_be_urlencoded(preview: TestClient) -> None:
    r = preview.post("/preview", json={"mode": "request"})
    assert r.status_code == 415 and "Submit the form" in r.text


def test_no_fixtures_folder_degrades_to_paste_only(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, preview=True, preview_fixtures=tmp_path / "absent"))
    with TestClient(app) as http:
        r = http.get("/preview")
        assert r.status_code == 200
        assert 'id="no-fixtures"' in r.text and str(tmp_path / "absent") in r.text
        assert 'id="request"' in r.text  # pasting still works
        r = http.get("/preview", params={"scenario": "oxycodone-active"})
        assert r.status_code == 400 and "Choose one of the listed scenarios" in r.text


def test_fixtures_setting_picks_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    (folder / "only-one").mkdir(parents=True)
    (folder / "only-one" / "order-sign.json").write_text((FIXTURES / "alt-6x-uln" / "order-sign.json").read_text())
    app = create_app(make_settings(tmp_path, preview=True, preview_fixtures=folder))
    with TestClient(app) as http:
        page = http.get("/preview").text
        assert '<option value="only-one"' in page and "1 scenarios" in page
        r = http.get("/preview", params={"scenario": "only-one", "hook": "order-sign", "as_of": "2026-11-25"})
        assert shown_cards(r.text) == {("liver-enzymes", "critical")}
        # no order-select.json, no expected.json: the other hook is refused clearly
        r = http.get("/preview", params={"scenario": "only-one", "hook": "order-select"})
        assert r.status_code == 400 and "has no order-select request" in r.text
