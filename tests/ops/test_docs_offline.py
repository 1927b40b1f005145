"""`/docs` renders in a real headless Chromium with the network cut off: every asset comes from the service."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.uvicorn_server import UvicornServer

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "cds-naltrexone.openapi.json"


def test_docs_render_offline(tmp_path: Path, offline_page) -> None:
    env = {"CDS_AUTH_MODE": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
           "CDS_LOG_LEVEL": "WARNING"}
    operations = sum(len(methods) for methods in json.loads(COMMITTED.read_text())["paths"].values())
    with UvicornServer(env, log_path=tmp_path / "uvicorn.log") as server:
        errors: list[str] = []
        offline_page.on("pageerror", lambda exc: errors.append(str(exc)))
        offline_page.goto(f"{server.url}/docs", wait_until="load")
        offline_page.wait_for_selector(".opblock-summary", timeout=30_000)
        assert "cds-naltrexone" in offline_page.text_content(".info .title")
        paths = offline_page.locator(".opblock-summary-path").all_text_contents()
        assert len(paths) == operations
        assert {"/cds-services", "/cds-services/{service_id}", "/cds-services/{service_id}/feedback"} <= {
            p.replace("\u200b", "") for p in paths}
        assert offline_page.locator(".opblock-summary-method").first.text_content() in {"GET", "POST"}
    assert offline_page.blocked == [], f"/docs asked the network for {offline_page.blocked}"
    assert errors == []
