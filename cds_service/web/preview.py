"""The integrator preview page (`/preview`, only with `CDS_PREVIEW=on`): the cards of a fixture scenario or
of a pasted request, rendered the way EHRs render them, next to the raw request and response.

It runs the hook endpoint's own pipeline (`Pipeline.run`, the same rule packs and FHIR fetcher) and never
touches the ledger: a preview is not a card an EHR received, so analytics never count it. The page is
server-rendered HTML with no script at all; card markdown goes through `web.markdown` (no raw HTML, no
unsafe links) and the page carries the strict Content-Security-Policy of `web.html`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from cds_service.bundle_request import request_from_bundle
from cds_service.errors import ServiceError
from cds_service.pipeline import Pipeline
from cds_service.settings import PACKAGE_DIR, Settings
from cds_service.web.html import page
from cds_service.web.markdown import render_markdown, safe_url

log = logging.getLogger(__name__)

HOOKS = ("order-sign", "order-select")
MAX_FORM_FIELDS = 20

# Client profiles: the name and how that client receives the response. Issue 12's profiles plug in here
# (one entry per profile: `{name: partial(apply_profile, name) for name in PROFILE_NAMES}`).
ProfileApply = Callable[[dict[str, Any]], dict[str, Any]]
PROFILES: dict[str, ProfileApply] = {"generic": lambda response: response}


# --------------------------------------------------------------------------------------- fixtures


def fixtures_dir(settings: Settings) -> Path | None:
    """Where the fixture scenarios are: `CDS_PREVIEW_FIXTURES`, else the source checkout's `fhir_fixtures/`
    (only when the package runs from a checkout, never a guess inside site-packages), else `./fhir_fixtures`.
    """
    if settings.preview_fixtures is not None:
        return settings.preview_fixtures if settings.preview_fixtures.is_dir() else None
    checkout = PACKAGE_DIR.parent
    candidates = [checkout / "fhir_fixtures"] if (checkout / "pyproject.toml").is_file() else []
    candidates.append(Path.cwd() / "fhir_fixtures")
    return next((c for c in candidates if c.is_dir()), None)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    today: str | None  # the date the scenario's relative dates count from (expected.json `today`)
    hooks: tuple[str, ...]


def scenarios(folder: Path | None) -> list[Scenario]:
    """The scenarios of `folder`: sub-folders holding an `order-sign.json` or `order-select.json`, in the
    order of `index.json` when there is one. Unreadable metadata only loses the description."""
    if folder is None:
        return []
    found: list[Scenario] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        hooks = tuple(h for h in HOOKS if (sub / f"{h}.json").is_file())
        if not hooks:
            continue
        description, today = "", None
        try:
            expected = json.loads((sub / "expected.json").read_text())
            description = str(expected.get("description", ""))
            today = str(expected["today"]) if expected.get("today") else None
        except (OSError, ValueError, AttributeError):
            pass
        found.append(Scenario(sub.name, description, today, hooks))
    try:
        order = {name: i for i, name in enumerate(json.loads((folder / "index.json").read_text()))}
    except (OSError, ValueError, TypeError):
        order = {}
    return sorted(found, key=lambda s: (order.get(s.name, len(order)), s.name))


# ------------------------------------------------------------------------------------ card views


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def card_view(card: dict[str, Any]) -> dict[str, Any]:
    """What the template needs of one card; URLs only when safe, markdown already rendered."""
    source = card.get("source") or {}
    topic = source.get("topic") or {}
    indicator = card.get("indicator") if card.get("indicator") in ("info", "warning", "critical") else "info"
    return {
        "uuid": str(card.get("uuid", "")),
        "indicator": indicator,
        "summary": str(card.get("summary", "")),
        "detail": render_markdown(str(card.get("detail", ""))),
        "source_label": str(source.get("label", "")),
        "source_url": safe_url(source.get("url")),
        "source_url_text": str(source.get("url", "")),
        "rule_id": str(topic.get("code", "")),
        "rule_title": str(topic.get("display", "")),
        "selection_behavior": card.get("selectionBehavior"),
        "suggestions": [
            {
                "label": str(s.get("label", "")),
                "recommended": bool(s.get("isRecommended")),
                "actions": [
                    {
                        "type": str(a.get("type", "")),
                        "description": str(a.get("description", "")),
                        "resource_id": a.get("resourceId"),
                        "resource": _pretty(a["resource"]) if a.get("resource") is not None else None,
                    }
                    for a in s.get("actions", [])
                ],
            }
            for s in card.get("suggestions", [])
        ],
        "override_reasons": [
            {"code": str(r.get("code", "")), "display": str(r.get("display") or r.get("code", ""))}
            for r in card.get("overrideReasons", [])
        ],
        "links": [
            {"label": str(link.get("label", "")), "url": safe_url(link.get("url")), "text": str(link.get("url", "")),
             "type": str(link.get("type", ""))}
            for link in card.get("links", [])
        ],
    }


@dataclass
class Result:
    """One preview: the request as sent, and per client profile the response and its cards (or the error
    the hook endpoint would have answered)."""

    title: str
    request_json: str = ""
    as_of: str = ""
    service_id: str = ""
    error: str | None = None
    status: int = 200
    profiles: list[dict[str, Any]] = field(default_factory=list)


# ----------------------------------------------------------------------------------- evaluation


class PreviewInputError(ValueError):
    """The form itself is wrong (bad JSON, unknown scenario): the page says what to fix."""


def _parse_json(text: str, what: str) -> Any:
    if not text.strip():
        raise PreviewInputError(f"Paste {what}.")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as err:  # orjson also refuses nesting deeper than 1024 levels
        raise PreviewInputError(f"{what[0].upper() + what[1:]} is not valid JSON: {str(err)[:200]}") from None
    return value


def _as_of(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PreviewInputError(f"'As of' must be a date like 2026-11-25 (got '{text[:40]}').") from None


async def evaluate(pipeline: Pipeline, request: dict[str, Any], as_of: date | None, title: str) -> Result:
    """Run the hook endpoint's pipeline on `request` (as of `as_of`), render it under every client profile."""
    service_id = next((sid for sid, (spec, _p) in pipeline.services.items() if spec.hook == request.get("hook")),
                      None)
    result = Result(title=title, request_json=_pretty(request))
    if as_of is not None:
        pipeline = Pipeline(pipeline.settings.model_copy(update={"today": as_of}), pipeline.packs,
                            pipeline.fetcher_factory)
    result.as_of = pipeline.today().isoformat()
    if service_id is None:
        hooks = ", ".join(sorted({spec.hook for spec, _p in pipeline.services.values()}))
        result.error, result.status = (f"No service answers the hook {str(request.get('hook'))[:60]!r} "
                                       f"(services answer: {hooks})."), 400
        return result
    result.service_id = service_id
    try:
        outcome = await pipeline.run(service_id, request)
    except ServiceError as err:
        result.error, result.status = err.message, err.status
        return result
    except Exception:  # the hook endpoint answers 500 here; the page says the same, without a traceback
        log.exception("preview: unexpected error evaluating %s", service_id)
        result.error, result.status = "Internal error: the request was logged; no cards could be computed.", 500
        return result
    for name, apply in PROFILES.items():
        response = apply(outcome.response)
        result.profiles.append({"name": name, "response_json": _pretty(response),
                                "cards": [card_view(c) for c in response.get("cards", [])]})
    return result


# --------------------------------------------------------------------------------------- routes


def add_preview(app: FastAPI, settings: Settings) -> None:
    """Mount `/preview` on `app` (only call it when `settings.preview` is on)."""
    router = APIRouter(include_in_schema=False)

    def render(request: Request, result: Result | None = None, form: dict[str, str] | None = None,
               input_error: str | None = None, status: int = 200) -> Response:
        folder = fixtures_dir(settings)
        known = scenarios(folder)
        form = form or {}
        return page("preview.html", status=status, preview_enabled=True, scenarios=known,
                    fixtures_folder=str(folder or ""), fixtures_setting=str(settings.preview_fixtures or ""),
                    result=result, form=form, input_error=input_error, hooks=HOOKS,
                    default_as_of=settings.today.isoformat() if settings.today else "")

    async def run_scenario(name: str, hook: str, as_of_text: str) -> Result:
        known = {s.name: s for s in scenarios(fixtures_dir(settings))}
        scenario = known.get(name)
        if scenario is None:
            raise PreviewInputError("Choose one of the listed scenarios.")
        if hook not in scenario.hooks:
            raise PreviewInputError(f"Scenario {name} has no {hook} request.")
        folder = fixtures_dir(settings)
        assert folder is not None
        request_data = _parse_json((folder / scenario.name / f"{hook}.json").read_text(), "the scenario request")
        as_of = _as_of(as_of_text) or (_as_of(scenario.today) if scenario.today else None)
        return await evaluate(app.state.pipeline, request_data, as_of, f"{scenario.name} ({hook})")

    @router.get("/preview")
    async def preview_page(request: Request, scenario: str | None = None, hook: str = "order-sign",
                           as_of: str = "") -> Response:
        form = {"mode": "fixture", "scenario": scenario or "", "hook": hook, "as_of": as_of}
        if not scenario:
            return render(request, form=form)
        try:
            result = await run_scenario(scenario, hook, as_of)
        except PreviewInputError as err:
            return render(request, form=form, input_error=str(err), status=400)
        return render(request, result=result, form=form)

    @router.post("/preview")
    async def preview_post(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return render(request, input_error="Submit the form on this page.", status=415)
        try:
            raw = (await request.body()).decode("utf-8")
            fields = parse_qs(raw, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except (UnicodeDecodeError, ValueError):
            return render(request, input_error="The form could not be read.", status=400)
        form = {k: v[0] for k, v in fields.items() if v}
        mode = form.get("mode", "")
        try:
            if mode == "fixture":
                result = await run_scenario(form.get("scenario", ""), form.get("hook", ""), form.get("as_of", ""))
            elif mode == "request":
                data = _parse_json(form.get("request", ""), "a CDS Hooks request")
                if not isinstance(data, dict):
                    raise PreviewInputError("The hook request must be a JSON object.")
                result = await evaluate(app.state.pipeline, data, _as_of(form.get("as_of", "")), "pasted request")
            elif mode == "bundle":
                hook = form.get("hook", "")
                if hook not in HOOKS:
                    raise PreviewInputError("Choose the hook.")
                bundle = _parse_json(form.get("bundle", ""), "a patient Bundle")
                order = _parse_json(form.get("order", ""), "a draft order")
                try:
                    pack = app.state.pipeline.packs[0]
                    data = request_from_bundle(bundle, order, hook, pack, hook_instance="preview")
                except ValueError as err:
                    raise PreviewInputError(str(err)[:300]) from None
                result = await evaluate(app.state.pipeline, data, _as_of(form.get("as_of", "")),
                                        f"pasted Bundle and draft order ({hook})")
            else:
                raise PreviewInputError("Choose what to preview.")
        except PreviewInputError as err:
            return render(request, form=form, input_error=str(err), status=400)
        return render(request, result=result, form=form)

    app.include_router(router)
