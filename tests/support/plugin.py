"""pytest plugin: real PostgreSQL and FHIR servers as lazy session fixtures.

Register it once, from tests/conftest.py::

    pytest_plugins = ["tests.support.plugin"]

Fixtures (session scope, started only when a test asks for them, stopped at session end):

    postgres_server  PostgresServer  (.url, .dsn, .port)
    postgres_url     str             SQLAlchemy URL postgresql+psycopg://postgres@127.0.0.1:PORT/cds_test
    fhir_server      FhirServer      (.base_url, .token, .headers, .client(), .load(bundle))

Tests using them get the ``postgres`` / ``fhirserver`` markers automatically, so ``-m "not fhirserver"``
deselects them. Nothing here skips: a server that cannot start fails the tests that need it, loudly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import FhirServer, PostgresServer

_startup: dict[str, float] = {}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        if server.startup_seconds is not None:
            _startup["postgres" + (" (external)" if server.external else "")] = server.startup_seconds
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.url


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[FhirServer]:
    with FhirServer() as server:
        if server.startup_seconds is not None:
            _startup["fhir (sekmet)"] = server.startup_seconds
        yield server


_MARKERS = {"postgres_server": "postgres", "postgres_url": "postgres", "fhir_server": "fhirserver"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs a PostgreSQL server (started by the test session)")
    config.addinivalue_line(
        "markers", "fhirserver: needs the sekmet-fhir server (started by the test session)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in _MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _startup:
        parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in _startup.items())
        terminalreporter.write_line(f"test servers started: {parts}")
