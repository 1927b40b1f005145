"""Start-up checks of the CLI, done before anything is changed, each failing with one line (`CliError`).

- the port is free (checked before migrations: a second `make run` must not migrate, then die on bind);
- the database answers and is migrated (or is migrated now, when `CDS_MIGRATE_ON_START` is on);
- several workers get one fresh directory for prometheus-client's multiprocess files.

Database errors are reported with the URL's password hidden and the driver's first line only.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from cds_service.cli import CliError
from cds_service.ops.metrics import MULTIPROC_ENV
from cds_service.settings import Settings
from cds_service.store import Store
from cds_service.store.store import is_unreachable

log = logging.getLogger("cds_service")


def check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is fine
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise CliError(f"port {port} on {host} is already in use (is the service already running?); "
                               "stop the other process or choose another port (--port, or PORT=... make run)"
                               ) from None
            raise CliError(f"cannot listen on {host}:{port}: {err.strerror}") from None


def _is_sqlite(settings: Settings) -> bool:
    try:
        return make_url(settings.database_url).get_backend_name() == "sqlite"
    except Exception:  # an unparsable URL is reported by the caller
        return False


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by the caller
        return "(unparsable URL)"


def _first_line(err: BaseException) -> str:
    cause = getattr(err, "orig", None) or err
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__


class DatabaseUnreachable(CliError):
    """The database server does not answer (PostgreSQL; not a set-up error): `serve` starts degraded."""


@contextlib.contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """Turn a database failure into one CliError line naming the (password-less) URL."""
    try:
        yield
    except SQLAlchemyError as err:
        kind = DatabaseUnreachable if is_unreachable(err) and not _is_sqlite(settings) else CliError
        raise kind(f"database {_safe_url(settings.database_url)} cannot be used: {_first_line(err)}. "
                   "Check CDS_DATABASE_URL and that the database server is running.") from None
    except OSError as err:  # e.g. a SQLite file in a directory that does not exist or is read-only
        raise CliError(f"database {_safe_url(settings.database_url)} cannot be opened: {err.strerror or err}"
                       ) from None


@contextlib.contextmanager
def open_store(settings: Settings, *, migrate: bool = True) -> Iterator[Store]:
    with database_errors(settings):
        store = Store(settings.database_url, settings.patient_hash_key)
        try:
            if migrate:
                store.migrate()
            yield store
        finally:
            store.close()


def migrate_database(settings: Settings) -> str | None:
    with open_store(settings) as store, database_errors(settings):
        return store.schema_revision()


def check_database(settings: Settings) -> None:
    """Migrate (CDS_MIGRATE_ON_START) or check that the schema is at head.

    A PostgreSQL server that does not answer does not stop `serve`: the service starts degraded (cards and
    feedback to the journal; the workers migrate when it answers, README: Ledger journal). A pod restarted
    during an outage must give guidance, not crash-loop. A set-up error (wrong password, unknown database)
    still stops it."""
    try:
        with open_store(settings, migrate=settings.migrate_on_start) as store, database_errors(settings):
            current, head = store.schema_revision(), store.head_revision()
    except DatabaseUnreachable as err:
        log.error("%s Starting degraded: cards and feedback go to the journal, and the schema is migrated and "
                  "checked when the database answers (see /readyz).", err)
        return
    if current != head:
        raise CliError(f"database {_safe_url(settings.database_url)} is not migrated (schema at "
                       f"{current or 'no revision'}, expected {head}): run `python -m cds_service migrate` "
                       "(CDS_MIGRATE_ON_START is off)")


def prepare_metrics_dir(workers: int) -> None:
    """Several workers share their metrics through files: a fresh directory (stale files of a previous run
    would add old counts). One worker keeps its metrics in memory unless the operator set the directory."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    elif workers > 1:
        path = Path(tempfile.mkdtemp(prefix="cds-metrics-"))
        os.environ[MULTIPROC_ENV] = str(path)
        import atexit

        atexit.register(shutil.rmtree, path, True)
