"""The real service as a uvicorn process for the browser tests: preview on, an admin token, its own ledger."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, TODAY
from tests.security.log_guard import forbid
from tests.support.uvicorn_server import UvicornServer

# screenshots go here (`CDS_TEST_OUTPUT` to change it); the committed copies in docs/ are refreshed with
# CDS_UPDATE_DOCS_SCREENSHOTS=1
OUTPUT = Path(os.environ.get("CDS_TEST_OUTPUT", ROOT / "test-output"))


class LiveService(UvicornServer):
    admin_token: str


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    tmp = tmp_path_factory.mktemp("web")
    token = secrets.token_urlsafe(24)
    forbid(token)
    log = tmp / "uvicorn.log"  # UvicornServer registers it with the log guard
    env = {"CDS_PREVIEW": "on", "CDS_PREVIEW_FIXTURES": str(FIXTURES), "CDS_AUTH_MODE": "off",
           "CDS_DATABASE_URL": f"sqlite:///{tmp / 'ledger.sqlite3'}", "CDS_PATIENT_HASH_KEY": "browser-test",
           "CDS_ADMIN_TOKEN": token, "CDS_LOG_LEVEL": "INFO", "CDS_TODAY": TODAY}
    server = LiveService(env, log_path=log)
    server.admin_token = token
    with server:
        yield server


@pytest.fixture(scope="session")
def screenshots() -> Path:
    path = OUTPUT / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
