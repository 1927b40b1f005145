"""Shared test fixtures: the app over HTTP (ASGI), fixture scenarios, and the CDS Hooks response validator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.cds_validator import assert_valid_cards_response

pytest_plugins = ["tests.support.plugin", "tests.support.browser", "tests.security.log_guard"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fhir_fixtures"
TODAY = "2026-11-25"  # the fixtures' anchor date: every relative date in them counts from here


def scenario_ids() -> list[str]:
    index = FIXTURES / "index.json"
    if index.exists():
        return json.loads(index.read_text())
    return sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").exists())


def load_fixture(scenario: str, name: str) -> dict:
    return json.loads((FIXTURES / scenario / name).read_text())


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict = {"auth_mode": "off", "today": TODAY, "database_url": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                    "patient_hash_key": "test-key", "log_level": "WARNING",
                    "journal_dir": tmp_path / "journal"}  # never ./cds-journal, shared by every test
    values.update(overrides)
    return Settings(**values)


class Client:
    """A synchronous HTTP client over the ASGI app that checks every 200 hook response against the spec."""

    def __init__(self, http: httpx.Client, profile: str = "generic") -> None:
        self.http = http
        self.profile = profile  # the client profile every hook response is checked against

    def get(self, url: str, **kw: object) -> httpx.Response:
        return self.http.get(url, **kw)  # type: ignore[arg-type]

    def post(self, url: str, **kw: object) -> httpx.Response:
        response = self.http.post(url, **kw)  # type: ignore[arg-type]
        if response.status_code == 200 and url.startswith("/cds-services/") and not url.endswith("/feedback"):
            assert_valid_cards_response(response.json(), self.profile)
        return response

    def hook(self, request: dict, service: str | None = None) -> httpx.Response:
        service = service or f"naltrexone-{request['hook']}"
        return self.post(f"/cds-services/{service}", json=request)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[Client]:
    from fastapi.testclient import TestClient

    with TestClient(app) as http:
        yield Client(http, app.state.settings.client_profile)
