"""`/healthz` (the process answers) and `/readyz` (it can do its work: database reachable and migrated,
terminology loaded; `degraded` while the ledger database is down and cards go to the local journal).

Readiness is a list of checks, `app.state.readiness_checks`. A check is a callable (sync or async) that
returns a `Check` result: `ok`, `degraded` (serving, but something is off: e.g. writing to a journal while
the ledger database is down) or `fail` (do not send traffic). Any `fail` gives 503 with an OperationOutcome
naming each failing check; otherwise 200 with `{"status": "ready" | "degraded", "checks": {...}}`. Each
check's state is exported as `cds_readiness{check,state}`. Another module adds a check with
`add_readiness_check(app, name, fn)`.

A check that raises counts as `fail` (with the exception's type, not its text: a driver's message may hold
a connection string); one that takes longer than `CHECK_TIMEOUT_SECONDS` fails as timed out.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import orjson
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cds_service.errors import operation_outcome
from cds_service.ops import metrics

if TYPE_CHECKING:
    from cds_service.rules.base import RulePack
    from cds_service.store import Store
    from cds_service.store.ledger import Ledger

log = logging.getLogger(__name__)
CHECK_TIMEOUT_SECONDS = 3.0
State = Literal["ok", "degraded", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    state: State
    detail: str = ""
    extra: dict | None = None  # more fields of the check's JSON (e.g. the journal's `pending` count)


def add_readiness_check(app: FastAPI, name: str, check: Callable[[], Check | Awaitable[Check]]) -> None:
    app.state.readiness_checks.append((name, check))


async def _run(name: str, check: Callable[[], Check | Awaitable[Check]]) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            if inspect.iscoroutinefunction(check):
                result = await check()
            else:
                result = await run_in_threadpool(check)  # a database round trip must not stall the loop
                if inspect.isawaitable(result):
                    result = await result
    except TimeoutError:
        result = Check("fail", f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except Exception as err:  # a failing check is a result, not a 500
        result = Check("fail", f"check raised {type(err).__name__}")
    metrics.observe_readiness(name, result.state)
    return result


def _json(body: object, status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def readiness(app: FastAPI) -> Response:
    names_checks = list(app.state.readiness_checks)
    results = await asyncio.gather(*(_run(name, check) for name, check in names_checks))
    checks = {name: {"state": r.state, **({"detail": r.detail} if r.detail else {}), **(r.extra or {})}
              for (name, _c), r in zip(names_checks, results, strict=True)}
    failed = [(name, r) for (name, _c), r in zip(names_checks, results, strict=True) if r.state == "fail"]
    if failed:
        log.warning("not ready: %s", "; ".join(f"{name}: {r.detail}" for name, r in failed))
        body = operation_outcome("Not ready: " + "; ".join(f"{name}: {r.detail}" for name, r in failed) + ".",
                                 code="transient")
        body["issue"] += [{"severity": "error", "code": "transient", "diagnostics": f"{name}: {r.detail}",
                           "expression": [name]} for name, r in failed]
        return _json(body, 503)
    degraded = any(r.state == "degraded" for r in results)
    return _json({"status": "degraded" if degraded else "ready", "checks": checks}, 200)


def database_check(store: Store, ledger: Ledger | None = None) -> Callable[[], Check]:
    """The ledger database answers and its schema is at the migrations' head.

    Unreachable (or failing writes) with a `ledger` is `degraded`, not `fail`: hook calls still answer with
    their cards (journaled), and taking the instance out of a load balancer's rotation would take guidance
    away from every EHR it serves, at the moment every instance sees the same outage. A schema behind the
    migrations is `fail`: a rollout whose migration did not run must not get traffic.
    """

    def check() -> Check:
        try:
            current = store.schema_revision()
        except Exception as err:
            if ledger is None:
                return Check("fail", f"database unreachable ({type(err).__name__})")
            return Check("degraded", f"database unreachable ({type(err).__name__}): cards and feedback go to "
                         "the local journal")
        head = store.head_revision()
        if current != head:
            return Check("fail", f"database schema at {current or 'no revision'}, expected {head} "
                         "(run the migrations: python -m cds_service migrate)")
        if ledger is not None and ledger.database_down:
            return Check("degraded", f"ledger writes failing ({ledger.status().database_error}): cards and "
                         "feedback go to the local journal until the next retry succeeds")
        return Check("ok")

    return check


def journal_check(ledger: Ledger) -> Callable[[], Check]:
    """The local journal: empty (ok), entries waiting for the database (degraded, with their count), or
    unable to take more (degraded: still answering cards, but not recording them; feedback gets 503)."""

    def check() -> Check:
        status = ledger.status()
        extra = {"pending": status.pending, **({"rejected": status.rejected} if status.rejected else {})}
        if status.journal_error is not None:
            what = ("new cards are answered but NOT recorded, feedback is refused (503)" if status.database_down
                    else "it could not keep cards if the database failed")
            return Check("degraded", f"journal {status.journal_error}: {what}", extra)
        if status.pending:
            return Check("degraded", f"{status.pending} entr{'y' if status.pending == 1 else 'ies'} pending "
                         "replay to the ledger database", extra)
        return Check("ok", "", extra)

    return check


def terminology_check(packs: Sequence[RulePack]) -> Callable[[], Check]:
    """Every rule pack with a terminology has codes and products loaded (an empty lookup would silently
    match nothing: no opioid recognised, no card)."""

    def check() -> Check:
        empty = [p.id for p in packs if getattr(p, "terminology", None) is not None
                 and not all(p.terminology.size().values())]
        return Check("fail", f"terminology not loaded for pack {', '.join(empty)}") if empty else Check("ok")

    return check


def install_probes(app: FastAPI, store: Store, packs: Sequence[RulePack], ledger: Ledger | None = None) -> None:
    app.state.readiness_checks = [("database", database_check(store, ledger)),
                                  ("terminology", terminology_check(packs))]
    if ledger is not None:
        app.state.readiness_checks.append(("journal", journal_check(ledger)))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return _json({"status": "ok"}, 200)

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        return await readiness(app)
