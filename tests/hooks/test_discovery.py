"""GET /cds-services: the three services, CDS Hooks 2.0 prefetch templates only."""

from __future__ import annotations

import re

from cds_service.hooks.models import DiscoveryResponse
from tests.conftest import Client

TOKEN = re.compile(r"\{\{(.*?)\}\}")


def test_discovery_lists_the_services(client: Client) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    body = response.json()
    DiscoveryResponse.model_validate(body)
    services = {s["id"]: s for s in body["services"]}
    assert set(services) == {"naltrexone-order-select", "naltrexone-order-sign", "naltrexone-patient-view"}
    assert services["naltrexone-order-select"]["hook"] == "order-select"
    assert services["naltrexone-order-sign"]["hook"] == "order-sign"
    assert services["naltrexone-patient-view"]["hook"] == "patient-view"
    for s in services.values():
        assert s["title"] and s["description"]
    for s in (services["naltrexone-order-select"], services["naltrexone-order-sign"]):
        assert set(s["prefetch"]) == {"patient", "conditions", "medicationRequests", "medicationStatements",
                                      "medicationDispenses",
                                      "medicationAdministrations", "liverTests", "urineDrugScreens", "allergies"}


def test_prefetch_templates_use_only_cds_hooks_2_tokens(client: Client) -> None:
    services = client.get("/cds-services").json()["services"]
    for s in services:
        for key, template in s["prefetch"].items():
            tokens = TOKEN.findall(template)
            assert tokens == ["context.patientId"], (key, template)
            assert "Practitioner/{{" not in template
            assert " " not in template and "|" not in template, f"{key}: values must be URL-encoded"


def test_observation_templates_filter_by_code(client: Client) -> None:
    prefetch = client.get("/cds-services").json()["services"][0]["prefetch"]
    assert prefetch["liverTests"].startswith("Observation?patient={{context.patientId}}&code=")
    liver_codes = prefetch["liverTests"].split("code=")[1].split(",")
    assert {"1742-6", "1920-8"} <= set(liver_codes)
    urine_codes = prefetch["urineDrugScreens"].split("code=")[1].split(",")
    assert urine_codes[:3] == ["19295-5", "3879-4", "58379-9"]
    assert "19609-7" not in urine_codes  # a naltrexone urine test is not an opioid result


def test_cors_on_discovery_and_preflight(client: Client) -> None:
    response = client.http.options("/cds-services/naltrexone-order-sign", headers={
        "Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in {"*", "https://sandbox.cds-hooks.org"}
    got = client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert got.headers["access-control-allow-origin"] in {"*", "https://sandbox.cds-hooks.org"}
    assert got.headers["x-content-type-options"] == "nosniff"
