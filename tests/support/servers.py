"""Real servers for the test suite (and the benchmark scripts): PostgreSQL and the sekmet-fhir R4 server.

Each manager starts its own private server on a free 127.0.0.1 port in a fresh temporary directory, waits
until it answers, and stops it and deletes the directory on ``stop()`` / context exit. The server processes
are direct children of the Python process that started them, with a parent-death signal, so they also go
away when that process is killed (SIGKILL included). Start them from the main thread: on Linux the
parent-death signal fires when the *thread* that started the child ends.

Nothing here ever skips: when a server cannot start, :class:`ServerStartError` says why and how to fix it.

    with PostgresServer() as pg, FhirServer() as fhir:
        engine = sqlalchemy.create_engine(pg.url)          # postgresql+psycopg://postgres@127.0.0.1:PORT/cds_test
        fhir.load(bundle)                                   # transaction (or collection) Bundle
        httpx.get(f"{fhir.base_url}/Patient/p1", headers=fhir.headers)

Environment:
    CDS_TEST_DATABASE_URL  use this database instead of starting a PostgreSQL (SQLAlchemy or libpq URL form)
    CDS_PG_BINDIR          dir with initdb/postgres/pg_ctl (default: newest /usr/lib/postgresql/*/bin)
    CDS_FHIR_SEKMET        path of the sekmet executable (default: <repo>/.venv-fhir/bin/sekmet)
    CDS_TEST_KEEP_SERVERS  if set to 1, leave the temporary directories (data and logs) in place on stop
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
FIX_HINT = "run `make test` (scripts/install-test-deps.sh installs what the servers need)"
_PR_SET_PDEATHSIG = 1


class ServerStartError(RuntimeError):
    """A test server could not be started. The message names the cause and the fix."""


# --------------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the caller retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent(sig: int) -> Callable[[], None]:
    """preexec_fn: ask Linux to send ``sig`` to the child when its parent dies."""

    def preexec() -> None:
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return preexec


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"(no log: {e})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _keep_dirs() -> bool:
    return os.environ.get("CDS_TEST_KEEP_SERVERS", "") not in ("", "0")


def _remove_tmpdir(server: PostgresServer | FhirServer) -> None:
    # A failed start keeps its directory (the error names its log); a later run sweeps it once we are gone.
    if server.tmpdir is not None and not server.failed and not _keep_dirs():
        shutil.rmtree(server.tmpdir, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _make_tmpdir(prefix: str) -> Path:
    """A fresh temp dir marked with our pid; first removes leftovers of killed test runs (dead owner pid)."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{prefix}*"):
        try:
            owner = int((old / "owner.pid").read_text())
        except (OSError, ValueError):
            continue  # not ours, or just being created
        if not _pid_alive(owner):
            shutil.rmtree(old, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / "owner.pid").write_text(str(os.getpid()))
    return path


_live: list[PostgresServer | FhirServer] = []


@atexit.register
def _stop_all() -> None:  # belt and braces: fixtures stop them first
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.stop()


# ------------------------------------------------------------------------------------------ PostgreSQL


def find_pg_bindir() -> Path:
    """The directory with PostgreSQL's server binaries (initdb, postgres, pg_ctl)."""
    names = ("initdb", "postgres", "pg_ctl")
    if os.environ.get("CDS_PG_BINDIR"):  # an explicit choice is not second-guessed
        d = Path(os.environ["CDS_PG_BINDIR"])
        if all((d / b).is_file() and os.access(d / b, os.X_OK) for b in names):
            return d
        raise ServerStartError(
            f"CDS_PG_BINDIR={d} does not hold initdb, postgres and pg_ctl. Fix the variable."
        )
    candidates: list[Path] = []

    def version_key(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.name)) or (0,)

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version_key, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for d in candidates:
        if all((d / b).is_file() and os.access(d / b, os.X_OK) for b in names):
            return d
    raise ServerStartError(
        "PostgreSQL server binaries (initdb, postgres, pg_ctl) not found in $CDS_PG_BINDIR, "
        "/usr/lib/postgresql/*/bin or $PATH. Fix: "
        + FIX_HINT
        + " (as root it runs `apt-get install -y --no-install-recommends postgresql`), "
        "or set CDS_TEST_DATABASE_URL to an existing database."
    )


def _normalise_db_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+driver://; answer the SQLAlchemy psycopg 3 form."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql") or parts.scheme.startswith("postgresql+"):
        return urlunsplit(parts._replace(scheme="postgresql+psycopg"))
    raise ServerStartError(f"CDS_TEST_DATABASE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")


class PostgresServer:
    """A throwaway PostgreSQL cluster: initdb in a temp dir, trust auth, 127.0.0.1 only, fsync off.

    As root, initdb and postgres run as the ``postgres`` system user (initdb refuses root). With
    ``CDS_TEST_DATABASE_URL`` set, nothing is started and that database is used (checked to answer).
    """

    SUPERUSER = "postgres"

    def __init__(self, dbname: str = "cds_test", *, startup_timeout: float = 60.0) -> None:
        self.dbname = dbname
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.external = bool(os.environ.get("CDS_TEST_DATABASE_URL"))
        self.startup_seconds: float | None = None
        self._url: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: Any = None
        self._run_as: str | None = None
        self.failed = False

    # -- public ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """SQLAlchemy URL: postgresql+psycopg://postgres@127.0.0.1:PORT/cds_test."""
        if self._url is None:
            raise RuntimeError("PostgresServer not started")
        return self._url

    @property
    def dsn(self) -> str:
        """libpq URL (for psycopg.connect): postgresql://postgres@127.0.0.1:PORT/cds_test."""
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def log_path(self) -> Path | None:
        return self.tmpdir / "postgres.log" if self.tmpdir else None

    def start(self) -> Self:
        t0 = time.monotonic()
        if self.external:
            self._url = _normalise_db_url(os.environ["CDS_TEST_DATABASE_URL"])
            self._check_external()
        else:
            self._start_own()
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # "fast" shutdown: disconnect clients, checkpoint, exit
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        _remove_tmpdir(self)
        if self in _live:
            _live.remove(self)

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """Stop the server process (data kept) for the body of the `with`, then start it again on the same
        port: for tests of what clients do while the database is down. Not for an external database."""
        if self.external or self._proc is None:
            raise RuntimeError("only a running PostgresServer started by the tests can be stopped and restarted")
        port, proc, url = self.port, self._proc, self._url
        proc.send_signal(signal.SIGINT)  # fast shutdown: disconnects every client
        proc.wait(timeout=30)
        self._proc = None
        try:
            yield
        finally:
            self._launch(find_pg_bindir(), port)
            self._url = url  # the test database again (_launch points it at `postgres`)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------------------------------

    def _check_external(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.dsn, connect_timeout=10) as conn:
                conn.execute("select 1")
        except Exception as e:
            raise ServerStartError(
                f"CDS_TEST_DATABASE_URL={os.environ['CDS_TEST_DATABASE_URL']!r} does not answer: {e}. "
                "Fix the URL, or unset it to let the tests start their own PostgreSQL."
            ) from e

    def _popen_kwargs(self) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        kw: dict[str, Any] = {"cwd": self.tmpdir, "env": env}
        if self._run_as:
            pw = pwd.getpwnam(self._run_as)
            env.update(HOME=pw.pw_dir, USER=self._run_as, LOGNAME=self._run_as)
            kw.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        return kw

    def _start_own(self) -> None:
        bindir = find_pg_bindir()
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as e:
                raise ServerStartError(
                    "running as root, but there is no `postgres` system user to run initdb as "
                    "(initdb refuses root). Fix: " + FIX_HINT + " (the Debian package postgresql creates it)."
                ) from e
            self._run_as = "postgres"
        self.tmpdir = _make_tmpdir("cds-test-pg-")
        if self._run_as:
            os.chown(self.tmpdir, pw.pw_uid, pw.pw_gid)
        _live.append(self)
        try:
            self._initdb(bindir)
            last_error: ServerStartError | None = None
            for _attempt in range(3):  # a free port can be taken between choosing and binding it
                try:
                    self._launch(bindir)
                    break
                except _PortTaken as e:
                    last_error = ServerStartError(str(e))
            else:
                assert last_error is not None
                raise last_error
            self._create_database()
        except BaseException:
            self.failed = True
            self.stop()
            raise

    def _initdb(self, bindir: Path) -> None:
        assert self.tmpdir is not None
        cmd = [
            str(bindir / "initdb"),
            "-D", str(self.tmpdir / "data"),
            "--username", self.SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C",
            "--no-sync",
        ]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, **self._popen_kwargs())
        if res.returncode != 0:
            raise ServerStartError(
                f"initdb failed (exit {res.returncode}) in {self.tmpdir}"
                + (f" as user {self._run_as}" if self._run_as else "")
                + f":\n{(res.stdout + res.stderr)[-3000:]}\nFix: {FIX_HINT}; "
                "or set CDS_TEST_DATABASE_URL to an existing database."
            )

    def _launch(self, bindir: Path, port: int | None = None) -> None:
        assert self.tmpdir is not None and self.log_path is not None
        self.port = port or free_port()
        if self._log_fh is not None:
            self._log_fh.close()
        self._log_fh = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        cmd = [
            str(bindir / "postgres"),
            "-D", str(self.tmpdir / "data"),
            "-p", str(self.port),
            "-k", str(self.tmpdir),  # unix socket in the temp dir, not /var/run/postgresql
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=200",
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal goes to pytest, which then stops us cleanly
            preexec_fn=_die_with_parent(signal.SIGQUIT),  # immediate shutdown if the test process dies
            **self._popen_kwargs(),
        )
        self._url = f"postgresql+psycopg://{self.SUPERUSER}@127.0.0.1:{self.port}/postgres"
        self._wait_ready()

    def _wait_ready(self) -> None:
        import psycopg

        assert self._proc is not None and self.log_path is not None
        deadline = time.monotonic() + self.startup_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = _tail(self.log_path)
                self._proc = None
                if "could not bind" in log or "already in use" in log:
                    raise _PortTaken(f"PostgreSQL could not bind port {self.port}:\n{log}")
                raise ServerStartError(
                    f"PostgreSQL exited during startup (port {self.port}). Log tail "
                    f"({self.log_path}):\n{log}\nFix: {FIX_HINT}."
                )
            try:
                with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError as e:
                last = e
                time.sleep(0.05)
        raise ServerStartError(
            f"PostgreSQL did not accept connections on 127.0.0.1:{self.port} "
            f"within {self.startup_timeout:.0f} s "
            f"(last error: {last}). Log tail ({self.log_path}):\n{_tail(self.log_path)}"
        )

    def _create_database(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))
        self._url = f"postgresql+psycopg://{self.SUPERUSER}@127.0.0.1:{self.port}/{self.dbname}"


class _PortTaken(Exception):
    pass


# ------------------------------------------------------------------------------------------ sekmet-fhir


def find_sekmet() -> Path:
    path = Path(os.environ.get("CDS_FHIR_SEKMET") or REPO_ROOT / ".venv-fhir" / "bin" / "sekmet")
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ServerStartError(
            f"the FHIR test server executable {path} is missing. Fix: {FIX_HINT} "
            "(it runs `python3 -m venv .venv-fhir && .venv-fhir/bin/pip install sekmet-fhir==0.1.1`)."
        )
    return path


def collection_to_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """A transaction Bundle with the same resources: PUT Type/id (POST Type when a resource has no id)."""
    if bundle.get("resourceType") != "Bundle":
        raise ValueError(f"expected a Bundle, got resourceType={bundle.get('resourceType')!r}")
    if bundle.get("type") in ("transaction", "batch"):
        return bundle
    entries = []
    for entry in bundle.get("entry", []):
        res = entry.get("resource")
        if not res:
            continue
        rtype, rid = res["resourceType"], res.get("id")
        new: dict[str, Any] = {"resource": res}
        if entry.get("fullUrl"):
            new["fullUrl"] = entry["fullUrl"]
        new["request"] = (
            {"method": "PUT", "url": f"{rtype}/{rid}"} if rid else {"method": "POST", "url": rtype}
        )
        entries.append(new)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


class FhirServer:
    """The sekmet-fhir R4 server on a free port: bearer token required, simulator off, validation warn.

    ``base_url`` is ``http://127.0.0.1:PORT/fhir``; send ``headers`` (``Authorization: Bearer <token>``).
    """

    def __init__(self, *, startup_timeout: float = 60.0, log_inbound: bool = False, open_access: bool = False) -> None:
        self.startup_timeout = startup_timeout
        self.open_access = open_access  # no authentication at all: an open FHIR server (CDS Hooks 2.0 allows it)
        self.log_inbound = log_inbound  # sekmet's own traffic log in its database (slow; off by default)
        self.token = secrets.token_urlsafe(32)
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: Any = None
        self.failed = False

    # -- public ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FhirServer not started")
        return f"http://127.0.0.1:{self.port}/fhir"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/fhir+json"}

    @property
    def log_path(self) -> Path | None:
        return self.tmpdir / "sekmet.log" if self.tmpdir else None

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on base_url + '/' with the bearer token (close it, or use it in a with)."""
        return httpx.Client(base_url=self.base_url + "/", headers=self.headers, **{"timeout": 30.0, **kwargs})

    def load(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a transaction Bundle (a collection Bundle is turned into one, with PUT entries).

        Raises AssertionError with the server's answer unless the transaction and every entry succeeded.
        Returns the transaction-response Bundle.
        """
        tx = collection_to_transaction(bundle)
        r = httpx.post(
            self.base_url,
            content=json.dumps(tx),
            headers={**self.headers, "Content-Type": "application/fhir+json"},
            timeout=60.0,
        )
        if r.status_code != 200:
            raise AssertionError(f"FHIR transaction failed: HTTP {r.status_code}: {r.text[:3000]}")
        body = r.json()
        bad = [
            e.get("response", {})
            for e in body.get("entry", [])
            if not str(e.get("response", {}).get("status", "")).startswith("2")
        ]
        if bad:
            raise AssertionError(f"FHIR transaction entries failed: {json.dumps(bad)[:3000]}")
        return body

    def start(self) -> Self:
        t0 = time.monotonic()
        sekmet = find_sekmet()
        self.tmpdir = _make_tmpdir("cds-test-fhir-")
        _live.append(self)
        try:
            last_error: Exception | None = None
            for _attempt in range(3):  # a free port can be taken between choosing and binding it
                try:
                    self._launch(sekmet)
                    break
                except _PortTaken as e:
                    last_error = e
            else:
                raise ServerStartError(str(last_error))
        except BaseException:
            self.failed = True
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        self._kill()
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        _remove_tmpdir(self)
        if self in _live:
            _live.remove(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------------------------------

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        else:  # the leader is gone; make sure nothing of its group is left
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _write_config(self) -> Path:
        assert self.tmpdir is not None
        config = {
            "base_url": self.base_url,
            "host": "127.0.0.1",
            "port": self.port,
            "data_dir": str(self.tmpdir / "data"),
            "own_private_key_path": str(self.tmpdir / "keys" / "sekmet_private.pem"),
            "server_auth": {"types": ["none"]} if self.open_access else {"types": ["bearer"], "tokens": [self.token]},
            "simulator": {"enabled": False},  # the default auto-fulfils MedicationRequests
            "validation": {"inbound": "warn"},
            "log_inbound": self.log_inbound,
        }
        path = self.tmpdir / "sekmet.yaml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        return path

    def _launch(self, sekmet: Path) -> None:
        assert self.tmpdir is not None and self.log_path is not None
        self._kill()
        self.port = free_port()
        config = self._write_config()
        if self._log_fh is not None:
            self._log_fh.close()
        self._log_fh = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        # sekmet reads SEKMET_* overrides from the environment: drop any inherited ones.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEKMET_")}
        env["PYTHONUNBUFFERED"] = "1"
        self._proc = subprocess.Popen(
            [str(sekmet), "serve", "--config", str(config)],
            cwd=self.tmpdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() kills the whole group
            preexec_fn=_die_with_parent(signal.SIGKILL),  # and it dies with the test process
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._proc is not None and self.log_path is not None
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        with httpx.Client(headers=self.headers, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    log = _tail(self.log_path)
                    code = self._proc.returncode
                    self._proc = None
                    if "address already in use" in log.lower():
                        raise _PortTaken(f"sekmet could not bind port {self.port}:\n{log}")
                    raise ServerStartError(
                        f"the FHIR test server (sekmet) exited with code {code} during startup. "
                        f"Log tail ({self.log_path}):\n{log}\nFix: {FIX_HINT}."
                    )
                try:
                    r = client.get(f"{self.base_url}/metadata")
                    if r.status_code == 200 and r.json().get("fhirVersion", "").startswith("4."):
                        break
                    last = f"HTTP {r.status_code}: {r.text[:300]}"
                except (httpx.TransportError, ValueError) as e:
                    last = repr(e)
                time.sleep(0.1)
            else:
                log = _tail(self.log_path)
                self._kill()
                raise ServerStartError(
                    f"the FHIR test server (sekmet) did not answer GET {self.base_url}/metadata within "
                    f"{self.startup_timeout:.0f} s (last: {last}). Log tail ({self.log_path}):\n{log}"
                )
            # /metadata is public in sekmet: prove the token is accepted on a guarded endpoint too.
            r = client.get(f"{self.base_url}/Patient", params={"_count": "1"})
            if r.status_code != 200:
                log = _tail(self.log_path)
                self._kill()
                raise ServerStartError(
                    "the FHIR test server rejected its own bearer token: "
                    f"GET Patient -> HTTP {r.status_code} "
                    f"{r.text[:500]}. Log tail ({self.log_path}):\n{log}"
                )


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url` (SQLAlchemy URL), dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text

    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # the server may restart
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
