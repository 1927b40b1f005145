"""Fixtures of the store tests: every test runs on SQLite (a real file) and on PostgreSQL.

PostgreSQL comes from the session fixture `postgres_url` of `tests.support.plugin` (a freshly started
real server). Only if that fixture does not exist, the server in `CDS_TEST_DATABASE_URL` or the system one
(`postgresql+psycopg://postgres@127.0.0.1:5432/test`) is used. Nothing skips: no server = failed tests.
Each test gets its own database (CREATE DATABASE with a random name, dropped afterwards).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from cds_service.store import Store
from tests.support.servers import fresh_postgres_database

FALLBACK_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HASH_KEY = "test-patient-hash-key"


def pytest_configure(config: pytest.Config) -> None:
    # Same as tests/support/conftest.py: make `postgres_url` available when only tests/store is run.
    # (if the plugin cannot be imported, `pg_admin_url` falls back to another server, see below)
    with contextlib.suppress(ImportError):
        config.pluginmanager.import_plugin("tests.support.plugin")  # no-op when already registered


@pytest.fixture(scope="session")
def pg_admin_url(request: pytest.FixtureRequest) -> str:
    """URL of a database on a real PostgreSQL server we may CREATE/DROP databases from."""
    try:
        url = str(request.getfixturevalue("postgres_url"))
    except pytest.FixtureLookupError:
        url = os.environ.get("CDS_TEST_DATABASE_URL") or FALLBACK_POSTGRES_URL
    sa_url = make_url(url)
    if sa_url.drivername in ("postgres", "postgresql"):
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    engine = create_engine(sa_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:
        pytest.fail(f"PostgreSQL at {sa_url.render_as_string(hide_password=True)} does not answer: {e}")
    finally:
        engine.dispose()
    return sa_url.render_as_string(hide_password=False)


@pytest.fixture
def pg_database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test only."""
    with fresh_postgres_database(pg_admin_url, "cds_store") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database of this test: a SQLite file in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return str(request.getfixturevalue("pg_database_url"))


@pytest.fixture
def make_store(db_url: str) -> Iterator[Callable[[], Store]]:
    """Factory of Store instances on this test's database (each its own engine), all closed at teardown."""
    stores: list[Store] = []

    def factory() -> Store:
        store = Store(db_url, HASH_KEY)
        stores.append(store)
        return store

    yield factory
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store: Callable[[], Store]) -> Store:
    """A migrated Store on this test's empty database."""
    s = make_store()
    s.migrate()
    return s
