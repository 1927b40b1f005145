"""liver-tests-missing, through HTTP: the look-back boundary, ALT or AST suffices, the suggested panel."""

from __future__ import annotations

from pathlib import Path

from cds_service.app import create_app
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from cds_service.rules.naltrexone.pack import NaltrexonePack
from tests.conftest import Client, make_settings
from tests.rules.naltrexone import requests_b as b


def post(client: Client, request: dict) -> dict:
    response = client.hook(request)
    assert response.status_code == 200, response.text
    return response.json()


def test_no_liver_tests_gives_info_with_hepatic_panel(client: Client) -> None:
    body = post(client, b.request(b.aud()))
    assert b.rules_fired(body) == [("liver-tests-missing", "info")]
    card = body["cards"][0]
    assert card["summary"] == "No ALT/AST in the last 90 days: order baseline liver tests for naltrexone"
    assert "baseline" in card["detail"] and "need not delay" in card["detail"]
    assert "- No ALT (LOINC 1742-6) or AST (LOINC 1920-8) result since 2026-08-27 (the last 90 days)" in card["detail"]
    assert "**Source**" in card["detail"]
    [suggestion] = card["suggestions"]
    [action] = suggestion["actions"]
    assert action["type"] == "create"
    resource = action["resource"]
    assert resource["resourceType"] == "ServiceRequest"
    assert resource["status"] == "draft" and resource["intent"] == "order"
    assert resource["code"]["coding"][0]["system"] == "http://loinc.org"
    assert resource["code"]["coding"][0]["code"] == "24325-3"
    assert resource["subject"] == {"reference": f"Patient/{b.PATIENT_ID}"}
    assert "overrideReasons" not in card


def test_alt_on_day_90_counts_day_91_does_not(client: Client) -> None:
    assert post(client, b.request(b.aud(), b.alt(days_ago=90)))["cards"] == []
    body = post(client, b.request(b.aud(), b.alt("old-alt", days_ago=91)))
    assert b.rules_fired(body) == [("liver-tests-missing", "info")]
    detail = body["cards"][0]["detail"]
    assert "`Observation/old-alt`" in detail and "older than the look-back, not used" in detail


def test_ast_alone_is_enough(client: Client) -> None:
    assert post(client, b.request(b.aud(), b.ast(days_ago=5)))["cards"] == []


def test_silent_when_liver_tests_unavailable(client: Client) -> None:
    body = post(client, b.request(b.aud(), failed={"liverTests": "timeout"}))
    assert b.rules_fired(body) == [("data-incomplete", "warning")]


def test_look_back_is_configurable(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    pack = NaltrexonePack(NaltrexoneConfig(liver_test_lookback_days=30))
    with TestClient(create_app(make_settings(tmp_path), packs=[pack])) as http:
        client = Client(http)
        body = post(client, b.request(b.aud(), b.alt(days_ago=31)))
        assert b.rules_fired(body) == [("liver-tests-missing", "info")]
        assert body["cards"][0]["summary"] == ("No ALT/AST in the last 30 days: order baseline liver tests for "
                                               "naltrexone")
        assert post(client, b.request(b.aud(), b.alt(days_ago=30)))["cards"] == []
