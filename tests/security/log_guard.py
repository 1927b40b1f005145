"""Session-wide log guard: no token, no JWT, no patient name in any log line of the test suite.

Register once, in tests/conftest.py::

    pytest_plugins = ["tests.support.plugin", "tests.security.log_guard"]

For the whole session a handler on the root logger (root level lowered to INFO, the service's production
level) formats every record and scans it for: a compact JWT (`eyJ...`), a known test bearer token
(`test-token`, the FHIR test server's token, tokens registered with `forbid()`), and the given/family names of
the patients in `fhir_fixtures/*/bundle.json`. Log files of subprocesses (uvicorn) registered with
`watch_file(path)` are scanned at session end. Any finding fails the session (exit status 1) and is listed,
redacted, in the terminal summary.

The JSON log format (`CDS_LOG_FORMAT=json`) is covered too: every record is also rendered by the service's
JSON formatter, which must give one parseable JSON object, and that line is scanned as well (JSON escaping
must not hide a name). Subprocess logs watched with `json_lines=True` (uvicorn servers in json mode) must
hold nothing but JSON lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from cds_service.ops.logging_config import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]
JWT_RE = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
KNOWN_TOKENS: set[str] = {"test-token"}
_WATCHED: list[Path] = []
_JSON_FILES: set[Path] = set()


def patient_names(fixtures: Path = ROOT / "fhir_fixtures") -> set[str]:
    """Given and family names of every Patient in the fixture bundles."""
    names: set[str] = set()
    for path in sorted(fixtures.glob("*/bundle.json")):
        bundle = json.loads(path.read_text())
        for entry in bundle.get("entry", []):
            resource = entry.get("resource") or {}
            if resource.get("resourceType") != "Patient":
                continue
            for name in resource.get("name", []):
                names.update(n for n in [name.get("family"), *name.get("given", [])] if isinstance(n, str) and n)
    return names


class Scanner:
    def __init__(self, names: set[str] | None = None) -> None:
        self.names = patient_names() if names is None else names
        self._names_re = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(self.names))) + r")\b") \
            if self.names else None

    def findings(self, line: str) -> list[str]:
        """What is secret in `line` (kind and a redacted hint, never the secret itself)."""
        found = []
        if JWT_RE.search(line):
            found.append("a JWT")
        for token in list(KNOWN_TOKENS):
            if token and token in line:
                found.append(f"the bearer token {token[:3]}…")
        if self._names_re is not None:
            match = self._names_re.search(line)
            if match:
                found.append(f"the patient name {match.group(0)[:2]}…")
        return found


def forbid(token: str) -> None:
    """Register a secret (a bearer token) that must never be logged."""
    if token:
        KNOWN_TOKENS.add(token)


def watch_file(path: Path, *, json_lines: bool = False) -> None:
    """Scan this log file (e.g. a uvicorn subprocess's output) at the end of the session; with `json_lines`,
    every line must also be a JSON object (the server logged in json mode)."""
    if Path(path) not in _WATCHED:
        _WATCHED.append(Path(path))
    if json_lines:
        _JSON_FILES.add(Path(path))


def json_problem(line: str) -> str | None:
    """Why `line` is not a JSON log line of the service's format, or None."""
    try:
        parsed = json.loads(line)
    except ValueError:
        return "not JSON"
    if not isinstance(parsed, dict) or not {"ts", "level", "logger", "message"} <= parsed.keys():
        return "JSON without ts/level/logger/message"
    return None


class GuardHandler(logging.Handler):
    def __init__(self, scanner: Scanner) -> None:
        super().__init__(logging.DEBUG)
        self.scanner = scanner
        self.records = 0
        self.violations: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a broken record is not this guard's business
            return
        self.records += 1
        found = self.scanner.findings(line)
        try:
            json_line = self.json.format(record)
        except Exception as err:  # the JSON formatter must render every record the plain one can
            found.append(f"the JSON formatter failed ({type(err).__name__})")
        else:
            problem = json_problem(json_line) or ("two lines" if "\n" in json_line else None)
            found += [problem] if problem else [f for f in self.scanner.findings(json_line) if f not in found]
        if found:
            self.violations.append(f"{record.name} {record.levelname} at {record.pathname}:{record.lineno}: "
                                   f"{', '.join(found)}")


_handler: GuardHandler | None = None


def scan_files(scanner: Scanner, paths: list[Path]) -> list[str]:
    out = []
    for path in paths:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found = scanner.findings(line)
            problem = json_problem(line) if path in _JSON_FILES else None
            if problem:
                found.append(problem)
            if found:
                out.append(f"{path.name}:{number}: {', '.join(found)}")
    return out


def pytest_configure(config: pytest.Config) -> None:
    global _handler
    _handler = GuardHandler(Scanner())
    root = logging.getLogger()
    root.addHandler(_handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    outcome = yield
    if fixturedef.argname == "fhir_server":
        with contextlib.suppress(BaseException):  # the fixture failed: nothing to collect
            forbid(getattr(outcome.get_result(), "token", ""))


def violations() -> list[str]:
    """Everything found so far (records) plus the watched files."""
    found = list(_handler.violations) if _handler else []
    return found + scan_files(_handler.scanner if _handler else Scanner(), _WATCHED)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = violations()
    session.config.stash[_FOUND] = found
    if found and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    found = config.stash.get(_FOUND, [])
    records = _handler.records if _handler else 0
    if found:
        terminalreporter.section("log guard: secrets in logs", red=True)
        for line in found[:50]:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"{len(found)} log line(s) with a token, JWT or patient name "
                                    f"(of {records} records and {len(_WATCHED)} subprocess log(s))")
    else:
        terminalreporter.write_line(f"log guard: {records} log records and {len(_WATCHED)} subprocess log(s) "
                                    "scanned: no token, JWT or patient name")


_FOUND = pytest.StashKey[list[str]]()
