"""The override dashboard (`/dashboard`) and the two analytics endpoints it reads besides `/analytics/rules`:
`/analytics/rules/daily` (override rate over time) and `/analytics/rules.csv` (every table as CSV).

The page itself holds no data and needs no token to load. Its own script (`static/dashboard.js`) asks for
the admin token in a form, keeps it in `sessionStorage` (gone when the tab closes, never in a URL, a
cookie or a log line) and sends it as `Authorization: Bearer` to the analytics endpoints, which check it
like `/analytics/rules` does. Charts are SVG drawn by that script: no chart library, no network.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cds_service.hooks.models import OperationOutcome
from cds_service.security.admin import admin_refusal, analytics_window
from cds_service.settings import Settings
from cds_service.store import daily_json, report_json
from cds_service.store.report import DailyResponse
from cds_service.web.html import page

CsvTable = Literal["rules", "reasons", "suggestions", "daily"]
# silent mode next to the shown cards (`issued`): the same columns in the per-rule and the daily table, always
# present (a spreadsheet keeps its layout whether or not a silent period is on)
SILENT_COLUMNS = ("silent", "hook_calls", "shown_per_100_calls", "silent_per_100_calls")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    400: {"model": OperationOutcome, "description": "`since`/`until` not an ISO 8601 date or date-time"},
    401: {"model": OperationOutcome, "description": "Missing or wrong admin token"},
}


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula (labels are text from the ledger)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_rows(table: CsvTable, rules: Sequence[dict[str, Any]], days: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """One table of the dashboard as rows, header first."""
    if table == "rules":
        header = ["rule_id", "issued", "accepted", "overridden", "override_rate", *SILENT_COLUMNS]
        return [header, *([r.get(c) for c in header] for r in rules)]
    if table == "reasons":
        return [["rule_id", "reason_system", "reason_code", "reason_display", "cards"],
                *([r["rule_id"], x["system"], x["code"], x["display"], x["count"]]
                  for r in rules for x in r["override_reasons"])]
    if table == "suggestions":
        return [["rule_id", "suggestion", "issued", "accepted", "acceptance_rate"],
                *([r["rule_id"], s["label"], s["issued"], s["accepted"], s["acceptance_rate"]]
                  for r in rules for s in r["suggestions"])]
    header = ["rule_id", "day", "issued", "accepted", "overridden", "override_rate", *SILENT_COLUMNS]
    return [header, *([d.get(c) for c in header] for d in days)]


def to_csv(rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def add_dashboard(app: FastAPI, settings: Settings) -> None:
    """Mount `/dashboard`, `/analytics/rules/daily` and `/analytics/rules.csv` on `app`."""
    router = APIRouter()

    @router.get("/dashboard", include_in_schema=False)
    async def dashboard() -> Response:
        services = sorted(app.state.pipeline.services)
        return page("dashboard.html", preview_enabled=settings.preview, services=services,
                    admin_enabled=bool(settings.admin_token))

    @router.get("/analytics/rules/daily", summary="Cards shown (issued), accepted, overridden and silent per rule "
                "per UTC day, with the hook calls of the day (admin token)", response_model=DailyResponse,
                responses=UNAUTHORIZED)
    async def daily(request: Request, since: str | None = None, until: str | None = None,
                    service: str | None = None) -> Response:
        refused = admin_refusal(request, settings)
        if refused is not None:
            return refused
        since, until = analytics_window(since, until)  # parsed after the token check
        days = await run_in_threadpool(app.state.store.daily, since, until, service_id=service)
        return Response(orjson.dumps({"days": daily_json(days)}), media_type="application/json")

    @router.get("/analytics/rules.csv", summary="The dashboard's tables as CSV (admin token)", response_class=Response,
                responses={**UNAUTHORIZED, 200: {"content": {"text/csv": {}}, "description": "CSV, header first"}})
    async def rules_csv(request: Request, table: CsvTable = "rules", since: str | None = None,
                        until: str | None = None, service: str | None = None) -> Response:
        refused = admin_refusal(request, settings)
        if refused is not None:
            return refused
        since, until = analytics_window(since, until)  # parsed after the token check
        store = app.state.store
        rules = report_json(await run_in_threadpool(store.analytics, since, until, service_id=service))
        days = daily_json(await run_in_threadpool(store.daily, since, until, service_id=service)) \
            if table == "daily" else []
        return Response(to_csv(csv_rows(table, rules, days)), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="cds-naltrexone-{table}.csv"'})

    app.include_router(router)
