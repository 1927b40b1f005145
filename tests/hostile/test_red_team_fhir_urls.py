"""Red-team finding 9 (issue 17): no loopback probing with a trusted client's request, and no path
traversal with the token attached. Real sockets on 127.0.0.1 through the real app and FHIR client."""

from __future__ import annotations

import copy
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.conftest import load_fixture, make_settings
from tests.support.servers import free_port


def no_prefetch(server: str, patient: str | None = None) -> dict:
    request = copy.deepcopy(load_fixture("cirrhosis-active", "order-sign.json"))
    request.pop("prefetch")
    request["fhirServer"] = server
    request["fhirAuthorization"] = {"access_token": "secret-token", "token_type": "Bearer"}
    if patient is not None:
        request["context"]["patientId"] = patient
        for entry in request["context"]["draftOrders"]["entry"]:
            entry["resource"]["subject"] = {"reference": f"Patient/{patient}"}
    return request


class Listener:
    """A TCP listener on 127.0.0.1 that records what it receives and answers `reply` (or nothing)."""

    def __init__(self, reply: bytes | None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    self.received.append(conn.recv(65536))
                    if self.reply is not None:
                        conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener(b"SSH-2.0-OpenSSH_9.6\r\n")
    yield server
    server.close()


def http(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


def test_plain_http_is_refused_by_default(tmp_path: Path, listener: Listener) -> None:
    assert Settings().fhir_allow_http == "never"
    with http(make_settings(tmp_path)) as client:
        response = client.post("/cds-services/naltrexone-order-sign",
                               json=no_prefetch(f"http://127.0.0.1:{listener.port}/fhir"))
    assert response.status_code == 412
    assert "unencrypted http://" in response.json()["issue"][0]["diagnostics"]
    assert listener.received == []  # not one byte, let alone the token, reached the port


def test_closed_and_non_http_ports_look_the_same(tmp_path: Path, listener: Listener) -> None:
    closed = free_port()
    with http(make_settings(tmp_path, fhir_allow_http="loopback")) as client:
        texts = [client.post("/cds-services/naltrexone-order-sign",
                             json=no_prefetch(f"http://127.0.0.1:{port}/fhir")).json()["issue"][0]["diagnostics"]
                 for port in (closed, listener.port)]
    assert texts[0] == texts[1]
    assert "could not reach the FHIR server" in texts[0]


@pytest.mark.parametrize("patient", ["../Practitioner/1", "..", ".", "p?x=1", "p/../../admin", "p#x", "a" * 65])
def test_patient_id_that_is_no_fhir_id_builds_no_url(tmp_path: Path, listener: Listener, patient: str) -> None:
    with http(make_settings(tmp_path, fhir_allow_http="loopback")) as client:
        response = client.post("/cds-services/naltrexone-order-sign",
                               json=no_prefetch(f"http://127.0.0.1:{listener.port}/fhir", patient))
    assert response.status_code == 400, response.text
    assert "context.patientId" in response.json()["issue"][0]["diagnostics"]
    assert listener.received == []


def test_medication_reference_dots_are_not_read() -> None:
    from cds_service.fhir.read import is_fhir_id
    assert is_fhir_id("abc-1.2") and not is_fhir_id("..") and not is_fhir_id(".") and not is_fhir_id("a/b")
