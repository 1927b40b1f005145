"""The committed OpenAPI document is the app's: regenerate with `python -m cds_service openapi`."""

import json
from pathlib import Path

from cds_service.cli import openapi_json

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "cds-naltrexone.openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    assert COMMITTED.read_text() == openapi_json(), (
        "openapi/cds-naltrexone.openapi.json is out of date: run `python -m cds_service openapi`"
    )


def test_openapi_documents_the_cds_hooks_endpoints() -> None:
    doc = json.loads(COMMITTED.read_text())
    assert {"/cds-services", "/cds-services/{service_id}", "/cds-services/{service_id}/feedback",
            "/analytics/rules"} <= set(doc["paths"])
    call = doc["paths"]["/cds-services/{service_id}"]["post"]
    assert call["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/HookRequest")
    assert {"200", "400", "401", "404", "412", "413", "415"} <= set(call["responses"])
    assert "HookRequest" in doc["components"]["schemas"] and "FeedbackRequest" in doc["components"]["schemas"]
