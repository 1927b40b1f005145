"""Command line: `python -m cds_service <command>` (serve, evaluate, report, purge, docs, openapi)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

cli = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="cds-naltrexone: CDS Hooks 2.0 naltrexone order checks.")


@cli.command()
def serve(host: str = "127.0.0.1", port: int = 8080, workers: int = 1) -> None:
    """Serve the API with uvicorn (settings from CDS_* environment variables)."""
    import uvicorn

    uvicorn.run("cds_service.app:app", host=host, port=port, workers=workers, server_header=False,
                proxy_headers=True, log_level="info")


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise typer.BadParameter(f"{path}: {err}") from None


def _request_from_bundle(bundle: dict, order: dict, hook: str) -> dict:
    """A hook request whose prefetch is the patient bundle, split into the service's prefetch keys."""
    from cds_service.fhir.read import bundle_resources
    from cds_service.rules.registry import default_packs

    resources = list(bundle_resources(bundle))
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
    if patient is None:
        raise typer.BadParameter("the bundle has no Patient")
    pack = default_packs()[0]
    terminology = pack.terminology  # type: ignore[attr-defined]
    prefetch: dict[str, Any] = {}
    for template in pack.prefetch:
        if template.key == "patient":
            prefetch["patient"] = patient
            continue
        chosen = [r for r in resources if r.get("resourceType") in template.resource_types]
        if template.resource_types == ("Observation",):
            wanted = {"liverTests": {"alt", "ast"}, "urineDrugScreens": {"urine-opioid-screen", "urine-naltrexone"}}
            classes = wanted.get(template.key, set())
            from cds_service.fhir.read import codings

            chosen = [r for r in chosen if any(terminology.observation_classes(s, c) & classes
                                               for s, c, _d in codings(r.get("code")))]
        prefetch[template.key] = {"resourceType": "Bundle", "type": "searchset", "total": len(chosen),
                                  "entry": [{"resource": r} for r in chosen]}
    request: dict[str, Any] = {
        "hook": hook, "hookInstance": "cli-evaluate",
        "context": {"patientId": patient["id"], "userId": "Practitioner/cli",
                    "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}},
        "prefetch": prefetch,
    }
    if hook == "order-select":
        request["context"]["selections"] = [f"{order.get('resourceType')}/{order.get('id')}"]
    return request


def print_cards(body: dict) -> None:
    cards = body.get("cards", [])
    if not cards:
        typer.echo("No cards: nothing to warn about for this order.")
        return
    marks = {"critical": "CRITICAL", "warning": "WARNING ", "info": "INFO    "}
    for card in cards:
        typer.echo("=" * 100)
        typer.echo(f"{marks[card['indicator']]} [{card['source']['topic']['code']}] {card['summary']}")
        typer.echo("-" * 100)
        typer.echo(card.get("detail", ""))
        for s in card.get("suggestions", []):
            actions = "; ".join(f"{a['type']} {a.get('resourceId') or a.get('resource', {}).get('resourceType', '')}"
                                for a in s.get("actions", []))
            typer.echo(f"  → suggestion: {s['label']}" + (f" ({actions})" if actions else ""))
        if card.get("overrideReasons"):
            typer.echo("  override reasons: " + "; ".join(r["display"] for r in card["overrideReasons"]))
    typer.echo("=" * 100)


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
    from cds_service.rules.registry import default_packs
    from cds_service.settings import Settings

    data = _load(file)
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        if order is None:
            raise typer.BadParameter("FILE is a Bundle: give the draft order with --order")
        data = _request_from_bundle(data, _load(order), hook)
    if not isinstance(data, dict) or "hook" not in data:
        raise typer.BadParameter("FILE must be a CDS Hooks request (with 'hook') or a FHIR Bundle")
    settings = Settings(today=date.fromisoformat(as_of) if as_of else None, auth_mode="off")
    pipeline = Pipeline(settings, default_packs())
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


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date or date-time (e.g. 2026-11-25 or "
                                 f"2026-11-25T08:00:00Z)", param_hint=option) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cli.command()
def report(
    since: Annotated[str | None, typer.Option(help="Cards issued from (ISO date/time, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Cards issued before (ISO date/time, UTC).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Override analytics per rule: cards issued, accepted, overridden, reasons, suggestions."""
    from cds_service.settings import Settings
    from cds_service.store import Store, format_report, report_json

    since_at, until_at = _when(since, "--since"), _when(until, "--until")  # usage errors before any I/O
    settings = Settings()
    with Store(settings.database_url, settings.patient_hash_key) as store:
        store.migrate()
        stats = store.analytics(since_at, until_at)
    typer.echo(json.dumps(report_json(stats), indent=2) if as_json else format_report(stats))


@cli.command()
def purge(days: Annotated[int | None, typer.Option(min=0, help="Keep this many days (default CDS_RETENTION_DAYS).")]
          = None) -> None:
    """Delete ledger rows older than the retention period (and expired JWT replay entries)."""
    from cds_service.settings import Settings
    from cds_service.store import Store

    settings = Settings()
    keep = days if days is not None else settings.retention_days
    with Store(settings.database_url, settings.patient_hash_key) as store:
        store.migrate()
        removed = store.purge(datetime.now(UTC) - timedelta(days=keep))
    typer.echo(f"removed {removed} rows older than {keep} days")


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
    cli(prog_name="python -m cds_service")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
