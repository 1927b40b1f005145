"""Command line: `python -m cds_service <command>` (serve, migrate, evaluate, validate, report, purge, replay,
docs, openapi).

A user's mistake (a bad argument, an unreadable file, a port in use, an unreachable or unmigrated database,
a bad `CDS_*` setting) ends with one clear line on stderr and a non-zero exit, never a traceback: usage
errors exit 2 (click's convention), operational ones 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

cli = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="cds-naltrexone: CDS Hooks 2.0 naltrexone order checks.")


class CliError(Exception):
    """An operational failure the user can fix: printed as one line, exit status 1."""


def _version(value: bool) -> None:
    if value:
        from cds_service import __version__

        typer.echo(f"cds-naltrexone {__version__}")
        raise typer.Exit()


@cli.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """cds-naltrexone: CDS Hooks 2.0 naltrexone order checks."""


@cli.command()
def serve(host: str = "127.0.0.1", port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
          workers: Annotated[int, typer.Option(min=1, envvar="WEB_CONCURRENCY",
                                               help="Worker processes (default: WEB_CONCURRENCY, else 1).")] = 1,
          ) -> None:
    """Serve the API with uvicorn (settings from CDS_* environment variables).

    Checks first, in this order, and stops with one line if one fails: the port is free, the database answers
    and is migrated (migrating it when CDS_MIGRATE_ON_START is on). Logs in CDS_LOG_FORMAT, uvicorn's too.
    """
    import uvicorn

    from cds_service.ops.logging_config import configure_logging, uvicorn_log_config
    from cds_service.ops.preflight import check_database, check_port, prepare_metrics_dir
    from cds_service.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)  # the checks' lines in the service's format
    check_port(host, port)  # before any migration: a second `make run` must not touch the database
    check_database(settings)
    prepare_metrics_dir(workers)
    trusted = settings.forwarded_allow_ips.strip()
    uvicorn.run("cds_service.app:app", host=host, port=port, workers=workers, server_header=False,
                proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None, access_log=False,
                log_level=settings.log_level.lower(), log_config=uvicorn_log_config(settings.log_level))


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the newest revision (what the Kubernetes migration Job runs)."""
    from cds_service.ops.preflight import migrate_database
    from cds_service.settings import Settings

    revision = migrate_database(Settings())
    typer.echo(f"database migrated: revision {revision}")


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise typer.BadParameter(f"{path}: {err}") from None


def _packs() -> list:
    """The rule packs with the site's ConceptMap (`CDS_SITE_CONCEPTMAP`); a malformed map is a clear error."""
    from cds_service.rules.registry import default_packs
    from cds_service.settings import Settings
    from cds_service.terminology.site_map import SiteMapError

    try:
        return default_packs(Settings().site_conceptmap)
    except SiteMapError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-25",
                                 param_hint="--as-of") from None


def draft_orders(data: Any, path: Path) -> list[dict]:
    """The draft orders of `--order`: one MedicationRequest, or a Bundle holding only MedicationRequests.

    Anything else is refused: evaluating "no order" would print "no cards", a silent all-clear.
    """
    hint = "--order"
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path} is not a FHIR resource (a JSON object)", param_hint=hint)
    kind = data.get("resourceType")
    if kind == "MedicationRequest":
        orders = [data]
    elif kind == "Bundle":
        entries = data.get("entry")
        orders = [e.get("resource") for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
        if not orders:
            raise typer.BadParameter(f"{path}: the Bundle holds no MedicationRequest", param_hint=hint)
        others = sorted({str(o.get("resourceType")) if isinstance(o, dict) else "a non-resource" for o in orders}
                        - {"MedicationRequest"})
        if others:
            raise typer.BadParameter(f"{path}: the Bundle holds {', '.join(others)}; only MedicationRequest "
                                     "draft orders can be evaluated", param_hint=hint)
    else:
        raise typer.BadParameter(f"{path} is {'a ' + kind if isinstance(kind, str) else 'not a FHIR resource'}; "
                                 "--order needs a MedicationRequest or a Bundle of them", param_hint=hint)
    for i, o in enumerate(orders):
        if not isinstance(o.get("id"), str) or not o["id"]:
            raise typer.BadParameter(f"{path}: MedicationRequest {i + 1} has no id (the hook's selections "
                                     "name orders by id)", param_hint=hint)
    return orders


def _request_from_bundle(bundle: dict, orders: list[dict], hook: str) -> dict:
    """A hook request whose prefetch is the patient bundle, split into the service's prefetch keys."""
    from cds_service.bundle_request import request_from_bundle

    drafts = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": o} for o in orders]}
    try:
        return request_from_bundle(bundle, drafts, hook, _packs()[0], hook_instance="cli-evaluate")
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


def print_cards(body: dict) -> None:
    from cds_service.cli_render import render_cards

    render_cards(body)


@cli.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="A hook request JSON, or a patient Bundle (with --order).")],
    order: Annotated[Path | None, typer.Option(help="Draft MedicationRequest JSON, when FILE is a Bundle.")] = None,
    hook: Annotated[str, typer.Option(help="Hook when building a request from a Bundle.")] = "order-sign",
    as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate as of this date (YYYY-MM-DD).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw CDS Hooks response.")] = False,
) -> None:
    """Evaluate a hook request offline (no server, no database) and print the cards."""
    from cds_service.errors import ServiceError
    from cds_service.pipeline import Pipeline
    from cds_service.settings import Settings

    today = _as_of(as_of)  # usage errors before any work
    data = _load(file)
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        if order is None:
            raise typer.BadParameter("FILE is a Bundle: give the draft order with --order")
        data = _request_from_bundle(data, draft_orders(_load(order), order), hook)
    elif order is not None:
        raise typer.BadParameter("--order goes with a patient Bundle; FILE is a hook request with its own "
                                 "draftOrders", param_hint="--order")
    if not isinstance(data, dict) or "hook" not in data:
        raise typer.BadParameter("FILE must be a CDS Hooks request (with 'hook') or a FHIR Bundle")
    # --as-of wins; otherwise CDS_TODAY (read by Settings), otherwise the real date
    settings = Settings(auth_mode="off", **({"today": today} if today else {}))
    pipeline = Pipeline(settings, _packs())
    service_id = next((sid for sid, (spec, _p) in pipeline.services.items() if spec.hook == data.get("hook")), None)
    if service_id is None:
        raise typer.BadParameter(f"no service answers hook {data.get('hook')!r}")
    try:
        outcome = asyncio.run(pipeline.run(service_id, data))
    except ServiceError as err:
        typer.echo(f"HTTP {err.status}: {err.message}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(outcome.response, indent=2, ensure_ascii=False))
    else:
        print_cards(outcome.response)


@cli.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Patient Bundles, FHIR resources or CDS Hooks requests (JSON).")],
) -> None:
    """Check fixture files against FHIR R4 (fhir.resources R4B, strict) and the CDS Hooks request rules.

    Prints each problem with its JSON path; exits 1 when any file has one.
    """
    from cds_service.validate import validate_file

    failed = 0
    for path in paths:
        kind, problems = validate_file(path)
        if problems:
            failed += 1
            typer.echo(f"{path}: {kind}: {len(problems)} problem(s)")
            for problem in problems:
                typer.echo(f"  {problem}")
        else:
            typer.echo(f"{path}: {kind}: valid")
    if failed:
        raise typer.Exit(1)


terminology_cli = typer.Typer(no_args_is_help=True, help="What the terminology classifies, and what it cannot.")
cli.add_typer(terminology_cli, name="terminology")


def _terminology():  # the pack's Terminology (imported lazily: the CLI starts fast)
    return _packs()[0].terminology  # type: ignore[attr-defined]  # with the site ConceptMap, if configured


@terminology_cli.command("audit")
def terminology_audit(
    path: Annotated[Path, typer.Argument(help="A patient Bundle, a hook request, an NDJSON file, or a directory "
                                         "of them (searched recursively).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """List every medication, condition and observation code the service could not classify, most frequent first."""
    from cds_service.terminology.audit import AuditInputError, audit, render

    try:
        report = audit(path, _terminology())
    except AuditInputError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report.as_json(), indent=2, ensure_ascii=False) if as_json else render(report))


@terminology_cli.command("explain")
def terminology_explain(
    coding: Annotated[str, typer.Argument(metavar="SYSTEM|CODE", help="e.g. atc|N02AA05, "
                                          "http://loinc.org|1743-4, urn:oid:2.16.840.1.113883.6.88|1049621")],
    display: Annotated[str | None, typer.Option(help="The coding's display, as the chart sends it.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
) -> None:
    """Print how one code is classified, and why (the sources of the entries that apply)."""
    from cds_service.terminology.systems import from_command_line

    system, sep, code = coding.partition("|")
    if not sep or not system.strip() or not code.strip():
        typer.echo("error: give SYSTEM|CODE, e.g. atc|N02AA05 or http://loinc.org|1742-6", err=True)
        raise typer.Exit(2)
    found = _terminology().explain(from_command_line(system), code, display)
    if as_json:
        typer.echo(json.dumps({
            "system": found.system, "code": found.code, "classes": sorted(found.classes), "how": found.how,
            "sources": list(found.sources),
            "ingredients": [{"name": i.name, "classes": sorted(i.classes)} for i in found.product.ingredients]
            if found.product else [],
        }, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{found.system}|{found.code}")
    typer.echo(f"  classes: {', '.join(sorted(found.classes)) or '(none: no rule reads it)'}")
    typer.echo(f"  how:     {found.how}")
    if found.product:
        for i in found.product.ingredients:
            typer.echo(f"  ingredient {i.name}: {', '.join(sorted(i.classes)) or '(no class)'}")
    for source in found.sources:
        typer.echo(f"  source:  {source}")


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    from cds_service.bounded import utc_instant

    try:
        return utc_instant(datetime.fromisoformat(value))  # bounded: year 1 with an offset is no traceback
    except ValueError:
        raise typer.BadParameter(f"{value[:60]!r} is not an ISO date or date-time between 1900 and 2200 (e.g. "
                                 f"2026-11-25 or 2026-11-25T08:00:00Z)", param_hint=option) from None


@cli.command()
def report(
    since: Annotated[str | None, typer.Option(help="Cards issued from (ISO date/time, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Cards issued before (ISO date/time, UTC).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Override analytics per rule: cards issued, accepted, overridden, reasons, suggestions."""
    from cds_service.ops.preflight import database_errors, open_store
    from cds_service.settings import Settings
    from cds_service.store import format_report, report_json

    since_at, until_at = _when(since, "--since"), _when(until, "--until")  # usage errors before any I/O
    settings = Settings()
    with open_store(settings) as store, database_errors(settings):
        stats = store.analytics(since_at, until_at)
    typer.echo(json.dumps(report_json(stats), indent=2) if as_json else format_report(stats))


@cli.command()
def purge(days: Annotated[int | None, typer.Option(min=0, help="Keep this many days (default CDS_RETENTION_DAYS).")]
          = None) -> None:
    """Delete ledger rows older than the retention period (and expired JWT replay entries)."""
    from cds_service.ops.preflight import database_errors, open_store
    from cds_service.settings import Settings

    settings = Settings()
    keep = days if days is not None else settings.retention_days
    with open_store(settings) as store, database_errors(settings):
        removed = store.purge(datetime.now(UTC) - timedelta(days=keep))
    typer.echo(f"removed {removed} rows older than {keep} days")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


@cli.command()
def replay(
    export: Annotated[Path, typer.Argument(help="A FHIR Bulk Data export: its directory of NDJSON files "
                                                "(plain or .gz), or one NDJSON file.")],
    since: Annotated[str | None, typer.Option(help="Orders authored on or after this day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Orders authored before this day (YYYY-MM-DD).")] = None,
    out: Annotated[Path, typer.Option(help="Where cards.ndjson, summary.json and report.html go.")]
    = Path("replay-out"),
    engine: Annotated[str, typer.Option(help="embedded (one machine, bounded memory) or spark "
                                             "(pip install '.[spark]').")] = "embedded",
    spark_master: Annotated[str | None, typer.Option(help="Spark master URL (default: CDS_SPARK_MASTER, "
                                                          "or Spark's own default).")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress",
                                                  help="Progress bar (default: on a terminal).")] = None,
) -> None:
    """Replay every historical order a pack checks, as of its signature, over a Bulk Data export."""
    import logging

    from cds_service.replay.export import ExportError
    from cds_service.replay.run import replay as run_replay
    from cds_service.replay.summary import format_summary
    from cds_service.settings import Settings
    from cds_service.terminology.site_map import SiteMapError

    since_day, until_day = _day(since, "--since"), _day(until, "--until")
    if since_day and until_day and until_day <= since_day:
        raise typer.BadParameter("--until must be after --since", param_hint="--until")
    if engine not in ("embedded", "spark"):
        raise typer.BadParameter("embedded or spark", param_hint="--engine")
    settings = Settings()
    # the record builder's per-resource warnings would drown the terminal over a whole export
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("cds_service").setLevel(logging.ERROR)
    shown = 0

    def on_error(error: object) -> None:
        nonlocal shown
        shown += 1
        if shown <= 20:
            typer.echo(f"malformed line skipped: {error}", err=True)
        elif shown == 21:
            typer.echo("more malformed lines skipped (all are counted and listed in summary.json)", err=True)

    try:
        data = run_replay(export, out, since=since_day, until=until_day, engine=engine,  # type: ignore[arg-type]
                          hash_key=settings.patient_hash_key, show_progress=progress, spark_master=spark_master,
                          on_error=on_error, site_conceptmap=settings.site_conceptmap)
    except (ExportError, SiteMapError) as err:
        typer.echo(f"replay: {err}", err=True)
        raise typer.Exit(2) from None
    except RuntimeError as err:  # e.g. the spark engine without pyspark
        typer.echo(f"replay: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(format_summary(data), nl=False)
    typer.echo(f"wrote {out / 'cards.ndjson'}, {out / 'summary.json'}, {out / 'report.html'}")


@cli.command()
def docs(readme: Path = Path("README.md")) -> None:
    """Regenerate the settings and rules tables in README.md."""
    from cds_service.docs import update_readme

    changed = update_readme(readme)
    typer.echo(f"{readme}: {'updated' if changed else 'already current'}")


@cli.command()
def openapi(out: Path = Path("openapi/cds-naltrexone.openapi.json")) -> None:
    """Write the OpenAPI document of the app (kept in sync by a test)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(openapi_json())
    typer.echo(f"wrote {out}")


def openapi_json() -> str:
    from cds_service.app import create_app
    from cds_service.settings import Settings

    app = create_app(Settings(auth_mode="off", database_url="sqlite://"))
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    """Run the CLI; a user's mistake ends with one line on stderr, never a traceback."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError

    try:
        cli(prog_name="python -m cds_service", standalone_mode=True)
    except CliError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(1)
    except ValidationError as err:  # a CDS_* setting that does not parse
        first = err.errors()[0]
        where = "CDS_" + "_".join(str(p) for p in first["loc"]).upper()
        typer.echo(f"error: setting {where}: {first['msg']}", err=True)
        sys.exit(1)
    except ArgumentError as err:
        typer.echo(f"error: CDS_DATABASE_URL is not a database URL ({err})", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
