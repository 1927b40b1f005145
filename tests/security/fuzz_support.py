"""Shared pieces of the fuzz tests: an in-process app, a request counter reported at the end of the module."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.conftest import make_settings


class CountingClient:
    """Posts to the in-process app, counting requests by status class."""

    def __init__(self, http: TestClient) -> None:
        self.http = http
        self.statuses: Counter[int] = Counter()
        self.started = time.monotonic()

    def post(self, path: str, **kwargs: object) -> object:
        response = self.http.post(path, **kwargs)  # type: ignore[arg-type]
        self.statuses[response.status_code] += 1
        return response

    def post_json(self, path: str, body: object) -> object:
        """`body` serialised as JSON whatever it is (`json=None` would send no body at all)."""
        return self.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})

    def summary(self, name: str) -> str:
        total = sum(self.statuses.values())
        by_status = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return f"{name}: {total} generated requests in {time.monotonic() - self.started:.1f} s ({by_status})"


def fuzz_client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                name: str) -> Iterator[CountingClient]:
    tmp: Path = tmp_path_factory.mktemp(name)
    app = create_app(make_settings(tmp, max_body_bytes=2_000_000))
    with TestClient(app) as http:  # raise_server_exceptions: an exception in the app fails the example
        client = CountingClient(http)
        yield client
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    line = client.summary(name)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
            reporter.write_line("")
            reporter.write_line(line)
    server_errors = sum(n for s, n in client.statuses.items() if s >= 500)
    assert server_errors == 0, line
