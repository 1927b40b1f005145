"""The OpenAPI document lists only responses the app sends, and every 200 has the schema of its real body."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.hooks.models import FeedbackResponse
from cds_service.store.report import AnalyticsResponse, DailyResponse
from tests.conftest import make_settings
from tests.store.app_helpers import ADMIN_TOKEN, accept, body, by_rule, hook_request, override

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "cds-naltrexone.openapi.json"
SIGN = "naltrexone-order-sign"


def test_no_422_and_a_schema_for_every_200() -> None:
    doc = json.loads(COMMITTED.read_text())
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            assert "422" not in responses, (path, method)
            if path.endswith(".csv"):  # a download, not JSON: documented as text/csv
                assert list(responses["200"]["content"]) == ["text/csv"], (path, method)
                continue
            schema = responses["200"]["content"]["application/json"]["schema"]
            assert schema.get("$ref", "").startswith("#/components/schemas/"), (path, method, schema)
            assert doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]["properties"], (path, method)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_real_bodies_match_the_documented_schemas(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, admin_token=ADMIN_TOKEN)
    with TestClient(create_app(settings)) as http:
        cards = by_rule(http.post(f"/cds-services/{SIGN}", json=hook_request("cirrhosis-active")).json()["cards"])
        feedback = body(override(cards["liver-disease"], "hepatology-approved"), accept(cards["liver-disease"]))
        answer = http.post(f"/cds-services/{SIGN}/feedback", json=feedback)
        assert answer.status_code == 200
        assert FeedbackResponse.model_validate(answer.json()) == FeedbackResponse(stored=2, received=2)
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        report = http.get("/analytics/rules", headers=auth)
        assert report.status_code == 200
        rules = {r.rule_id: r for r in AnalyticsResponse.model_validate(report.json()).rules}
        assert (rules["liver-disease"].issued, rules["liver-disease"].overridden) == (1, 1)
        daily = http.get("/analytics/rules/daily", headers=auth)
        assert daily.status_code == 200
        days = {d.rule_id: d for d in DailyResponse.model_validate(daily.json()).days}
        # accepted and overridden at the same instant: the override counts, in both tables alike
        liver = days["liver-disease"]
        assert (liver.issued, liver.accepted, liver.overridden) == (1, 0, 1)
        assert (rules["liver-disease"].accepted, rules["liver-disease"].overridden) == (0, 1)
        assert rules["liver-disease"].non_adherence_reasons == []  # a site reason with no HL7 equivalent
        bad = http.get("/analytics/rules", params={"since": "last tuesday"}, headers=auth)
        assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"  # documented, not 422
