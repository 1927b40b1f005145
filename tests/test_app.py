"""The order of work around a hook response: what the EHR waits for, and what happens after it."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from cds_service.app import create_app
from tests.conftest import load_fixture, make_settings


def test_ledger_before_the_response_log_line_after_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The cards are durable before the EHR sees them; the access line with the rule ids fired (and freeing
    the parsed request) waits until the response has been sent."""
    settings = make_settings(tmp_path, log_level="INFO")
    app = create_app(settings)
    body = json.dumps(load_fixture("oxycodone-active", "order-sign.json")).encode()
    events: list[str] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name == "cds_service.access" and getattr(record, "cds", {}).get("rule_ids"):
                events.append("log line")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/cds-services/naltrexone-order-sign", "raw_path": b"/cds-services/naltrexone-order-sign",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
             "headers": [(b"host", b"x"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}

    async def call() -> None:
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.body":
                with app.state.store.engine.connect() as conn:
                    stored = conn.execute(text("SELECT count(*) FROM issued_card")).scalar_one()
                events.append(f"response sent, {stored} cards in the ledger")

        async with app.router.lifespan_context(app):
            await app(scope, receive, send)

    handler = Recorder()
    logging.getLogger("cds_service").addHandler(handler)
    try:
        asyncio.run(call())
    finally:
        logging.getLogger("cds_service").removeHandler(handler)
    cards = len(load_fixture("oxycodone-active", "expected.json")["order-sign"]["cards"])
    assert events == [f"response sent, {cards} cards in the ledger", "log line"]
