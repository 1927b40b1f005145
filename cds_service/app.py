"""The ASGI application: `create_app(settings)` builds it; `app` is the one uvicorn serves."""

from __future__ import annotations

import contextlib
import gc
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from functools import partial

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from cds_service import __version__, logsafe
from cds_service.bounded import utc_instant
from cds_service.errors import BadRequest, ServiceError, error_response, outcome_response
from cds_service.hooks.body import read_json
from cds_service.hooks.models import (
    CardsResponse,
    DiscoveryResponse,
    FeedbackEntry,
    FeedbackRequest,
    FeedbackResponse,
    HookRequest,
    OperationOutcome,
)
from cds_service.ops.docs_ui import install_docs
from cds_service.ops.logging_config import configure_logging
from cds_service.ops.metrics import metrics_endpoint, observe_feedback
from cds_service.ops.probes import install_probes
from cds_service.ops.telemetry import RequestTelemetryMiddleware, note_hook_call, request_id_of
from cds_service.pipeline import FetcherFactory, Outcome, Pipeline
from cds_service.profiles import apply_profile
from cds_service.rules.base import RulePack
from cds_service.rules.registry import default_packs
from cds_service.security.admin import admin_refusal, analytics_window
from cds_service.security.dependency import auth_error_response, authenticate, cors_options
from cds_service.security.jwt import AuthError, JwtVerifier, ThreadedReplayCache, VerifiedClient
from cds_service.security.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from cds_service.settings import Settings, get_settings
from cds_service.store import FeedbackError, FeedbackItem, IssuedCard, IssuedSuggestion, Store
from cds_service.store.journal import Journal
from cds_service.store.ledger import Ledger, LedgerUnavailable, default_journal_dir
from cds_service.store.report import AnalyticsResponse
from cds_service.web import add_pages

log = logging.getLogger("cds_service")

ERRORS = {
    400: {"model": OperationOutcome, "description": "Malformed request (OperationOutcome says what)"},
    401: {"model": OperationOutcome, "description": "Missing or rejected JWT"},
    404: {"model": OperationOutcome, "description": "Unknown service"},
    413: {"model": OperationOutcome, "description": "Body too large"},
    415: {"model": OperationOutcome, "description": "Not JSON"},
}


# RFC 3339 §5.6 date-time ('T' and 'Z' in either case, §5.6 NOTE); ISO 8601 forms outside it are refused
RFC3339_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


GC_YOUNG_THRESHOLD = 20_000


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def after_response(service_id: str, outcome: Outcome, parsed_request: object,
                         release: Callable[[], None] | None = None) -> None:
    """Runs once the response is on its way: the release of the parsed request (the access line with the
    rule ids fired follows it, written by the telemetry middleware).

    The EHR waits at order time; nothing it does not need belongs before its response. This task holds the
    parsed request (~20,000 objects for a typical call) and the outcome, so they are freed after the send,
    not before it. Measured at one connection, p50 -5 to -10%.
    """
    del parsed_request  # freed with this task, after the response
    if release is not None:
        release()  # garbage of cut-off FHIR responses, collected after the send (fhir.client)


def issued_cards(cards: Sequence[dict], rule_ids: Sequence[str] | None = None, *,
                 silent: bool = False) -> list[IssuedCard]:
    """The ledger rows of the cards as sent; `rule_ids` (one per card) when the profile changed the topic
    code (the ledger and the analytics key on the rule id, whatever the client saw); `silent` for the cards
    of silent-mode rules, which no client saw."""
    ids = list(rule_ids) if rule_ids is not None else [c["source"]["topic"]["code"] for c in cards]
    return [
        IssuedCard(
            uuid=c["uuid"],
            rule_id=rule_id,
            indicator=c["indicator"],
            summary=c["summary"],
            suggestions=tuple(IssuedSuggestion(s["uuid"], s["label"]) for s in c.get("suggestions", [])),
            override_reasons=tuple((r["system"], r["code"], r["display"]) for r in c.get("overrideReasons", [])),
            silent=silent,
        )
        for c, rule_id in zip(cards, ids, strict=True)
    ]


def parse_feedback(data: object) -> list[FeedbackItem]:
    try:
        request = FeedbackRequest.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"Invalid feedback: {where}: {first['msg']}", expression=[where]) from None
    items = []
    for i, entry in enumerate(request.feedback):
        stamp = None
        if RFC3339_DATE_TIME.fullmatch(entry.outcomeTimestamp):
            # e.g. month 13, a leap second (:60), or year 1 with an offset (no UTC form: OutOfRange)
            with contextlib.suppress(ValueError):
                stamp = utc_instant(datetime.fromisoformat(entry.outcomeTimestamp.upper().replace("Z", "+00:00")))
        if stamp is None:
            raise BadRequest(f"feedback[{i}].outcomeTimestamp must be an RFC 3339 date-time with a time zone "
                             f"between 1900 and 2200, e.g. 2026-11-25T16:33:03Z.",
                             expression=[f"feedback[{i}].outcomeTimestamp"])
        accepted = tuple(s.id for s in entry.acceptedSuggestions or [])
        if entry.outcome == "accepted" and not accepted:
            raise BadRequest(f"feedback[{i}]: outcome 'accepted' requires acceptedSuggestions.",
                             expression=[f"feedback[{i}].acceptedSuggestions"])
        reasons, comment = feedback_reasons(entry, i)
        items.append(FeedbackItem(
            card=entry.card,
            outcome=entry.outcome,
            accepted_suggestions=accepted,
            reason_system=reasons[0][0] if reasons else None,
            reason_code=reasons[0][1] if reasons else None,
            user_comment=comment,
            outcome_timestamp=stamp,
            reasons=reasons,
        ))
    return items


MAX_REASON_CHARS = 500


def _coding(value: object, where: str) -> tuple[str | None, str] | None:
    """(system, code) of a Coding, or of an OverrideReason's `reason`; None when there is no code at all."""
    if isinstance(value, dict) and isinstance(value.get("reason"), dict):
        value = value["reason"]
    if not isinstance(value, dict) or "code" not in value:
        return None
    code, system = value.get("code"), value.get("system")
    if not isinstance(code, str) or not code.strip() or len(code) > MAX_REASON_CHARS:
        raise BadRequest(f"{where}.code must be a non-empty string (at most {MAX_REASON_CHARS} characters).",
                         expression=[f"{where}.code"])
    if system is not None and (not isinstance(system, str) or not system or len(system) > MAX_REASON_CHARS):
        raise BadRequest(f"{where}.system must be a URI string.", expression=[f"{where}.system"])
    return system, code


def feedback_reasons(entry: FeedbackEntry, i: int) -> tuple[tuple[tuple[str | None, str], ...], str | None]:
    """Every override reason of a feedback item, in order and without repeats, and the first user comment.

    Sources: `overrideReason` (CDS Hooks 2.0), `overrideReasons` (Epic's documentation: the plural, a list of
    OverrideReason objects; a list of bare Codings is read too), and `extension` members whose name says
    `reason` (Epic extension reasons: a Coding, an OverrideReason, or a list of them). `display` is never
    required: the Sandbox and Epic send reasons without it; the analytics take it from the issued card.
    """
    found: list[tuple[str | None, str]] = []
    comment: str | None = None
    if entry.overrideReason is not None:
        if entry.overrideReason.reason is not None:
            found.append((entry.overrideReason.reason.system, entry.overrideReason.reason.code))
        comment = entry.overrideReason.userComment
    for n, item in enumerate(entry.overrideReasons or []):
        coding = _coding(item, f"feedback[{i}].overrideReasons[{n}]")
        if coding is not None:
            found.append(coding)
        said = item.get("userComment")
        if comment is None and isinstance(said, str) and said:
            comment = said
    for key, value in sorted((entry.extension or {}).items()):
        if "reason" not in key.lower():
            continue
        values = value if isinstance(value, list) else [value]
        for n, item in enumerate(values[:50]):
            coding = _coding(item, f"feedback[{i}].extension.{key[:60]}[{n}]")
            if coding is not None:
                found.append(coding)
    return tuple(dict.fromkeys(found)), comment


def create_app(settings: Settings | None = None, *, packs: Sequence[RulePack] | None = None,
               store: Store | None = None, fetcher_factory: FetcherFactory | None = None,
               verifier: JwtVerifier | None = None) -> FastAPI:
    settings = settings or get_settings()
    logsafe.install()  # every value interpolated into a log line is escaped; no query strings in the access log
    configure_logging(settings.log_level, settings.log_format)
    if packs is None:
        from cds_service.terminology.site_map import SiteMapError

        try:
            packs = default_packs(settings.site_conceptmap)
        except SiteMapError as err:  # start-up stops with the element named, not a traceback
            logging.getLogger(__name__).error("%s", err)
            raise SystemExit(str(err)) from None
    store = store or Store(settings.database_url, settings.patient_hash_key)
    ledger = make_ledger(settings, store)
    if fetcher_factory is None:
        from cds_service.fhir.client import FhirFetcherFactory

        fetcher_factory = FhirFetcherFactory(settings)
    pipeline_packs = packs
    release_fhir_garbage = getattr(fetcher_factory, "release_garbage", None)
    pipeline = Pipeline(settings, pipeline_packs, fetcher_factory)
    # measured (single worker, 4 connections, typical order): handing the sub-millisecond SQLite commit to
    # a thread made the CPU-bound event loop and the thread fight for the GIL: p99 205 ms -> 45 ms inline
    inline_ledger = store.dialect == "sqlite"
    if settings.auth_mode == "jwt" and verifier is None:
        verifier = JwtVerifier(settings, ledger if inline_ledger else ThreadedReplayCache(ledger))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await run_in_threadpool(store.migrate)
        store.start_background_checkpoints()  # SQLite: no checkpoint fsync inside a hook call's commit
        ledger.start()  # replays what a previous run journaled, then whatever an outage journals
        # Everything loaded so far (terminology, FHIR models, rule packs) lives for the whole process:
        # move it out of the garbage collector's sight, or every full collection re-scans it (measured:
        # in-process p99 of a typical call 25 ms -> 5 ms).
        gc.collect()
        gc.freeze()
        # A hook call parses ~20,000 objects that all live until its response: at the default threshold (700)
        # the collector ran ~30 times per call and promoted the whole request to older generations. Measured
        # over HTTP, typical order: CPU per call -7 %, p50 -4 %. Cycles are rare here; memory stays flat.
        gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
        if settings.auth_mode == "off":
            log.warning("!!! CDS_AUTH_MODE=off: JWT verification is DISABLED; every caller is trusted. "
                        "Use only for local development and tests. !!!")
        try:
            yield
        finally:
            close = getattr(fetcher_factory, "aclose", None)
            if close is not None:
                await close()
            await run_in_threadpool(ledger.close)
            store.close()

    app = FastAPI(
        title="cds-naltrexone",
        version=__version__,
        summary="CDS Hooks 2.0 service: naltrexone order safety checks",
        description="Discovery, service calls (order-select, order-sign) and feedback per CDS Hooks 2.0. "
        "Every error is a FHIR OperationOutcome.",
        lifespan=lifespan,
        docs_url=None,  # the offline page below (cds_service.ops.docs_ui), not FastAPI's CDN one
        redoc_url=None,
    )
    app.state.pipeline = pipeline
    app.state.store = store
    app.state.ledger = ledger
    app.state.settings = settings
    install_docs(app)

    async def check_auth(request: Request, kind: str, service_id: str | None = None) -> VerifiedClient | None:
        return await authenticate(request, settings, verifier, kind, service_id)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        return error_response(exc)

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> Response:
        return auth_error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "No such endpoint. The API is GET /cds-services, POST /cds-services/{id}, "
                    "POST /cds-services/{id}/feedback.", 405: "Method not allowed on this endpoint."}
        return outcome_response(exc.status_code, messages.get(exc.status_code, str(exc.detail)),
                                code="not-found" if exc.status_code == 404 else "not-supported")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return outcome_response(400, f"Invalid request: {exc.errors()[0].get('msg', 'invalid')}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        request_id = request_id_of(request)  # this handler runs outside the telemetry middleware
        return outcome_response(500, "Internal error: the request was logged. No cards could be computed; "
                                "do not treat this as 'no warnings'.", code="exception",
                                headers={"X-Request-ID": request_id} if request_id else None)

    @app.get("/cds-services", response_model=DiscoveryResponse, responses={401: ERRORS[401]},
             summary="CDS Hooks discovery")
    async def discovery(request: Request) -> Response:
        await check_auth(request, "discovery")
        return _json(pipeline.discovery())

    @app.post("/cds-services/{service_id}", response_model=CardsResponse,
              responses={**ERRORS, 412: {"model": OperationOutcome, "description": "Required data unobtainable"}},
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": {"$ref": "#/components/schemas/HookRequest"}}}}},
              summary="Call a CDS service (order-select / order-sign)")
    async def call_service(service_id: str, request: Request) -> Response:
        pipeline.service(service_id)  # 404 before anything else
        client = await check_auth(request, "service", service_id)
        profile = client.profile if client is not None else settings.client_profile
        data = await read_json(request, settings.max_json_depth)
        try:
            outcome: Outcome = await pipeline.run(service_id, data)
        except ServiceError as err:  # a 412 after a hostile FHIR server: its garbage is released too
            response = error_response(err)
            if release_fhir_garbage is not None:
                response.background = BackgroundTask(release_fhir_garbage)
            return response
        rule_ids = [c["source"]["topic"]["code"] for c in outcome.response["cards"]]
        if profile != "generic" and rule_ids:
            outcome = replace(outcome, response=apply_profile(profile, outcome.response))
        cards = outcome.response["cards"]  # what the EHR sees (silent cards are not in it, in any profile)
        if outcome.evaluation is not None and outcome.call is not None:
            # durable before the EHR sees the cards: a card it received is in the ledger, or in the journal
            # (fsynced) while the database is down; either failing is logged, the cards are answered anyway.
            # Silent cards go there too (marked), and the call is counted: the denominator of "per 100 hook
            # calls".
            ledger_cards = issued_cards(cards, rule_ids) + issued_cards(outcome.silent, silent=True)
            write = partial(ledger.record_issued, service_id=service_id, hook=outcome.service.hook,
                            hook_instance=outcome.call.hook_instance, patient_id=outcome.call.patient_id,
                            cards=ledger_cards, issuer=client.iss if client else None,
                            tenant=client.tenant if client else None, count_call=True)
            if inline_ledger and not ledger.database_down:
                write()  # a local SQLite commit (~0.25 ms): a thread hop costs more in GIL convoys than it saves
            else:
                await run_in_threadpool(write)  # a network round trip must not stall the event loop
        note_hook_call(request, service_id, outcome.service.hook,
                       outcome.call.hook_instance if outcome.call is not None else None, cards)
        response = _json(outcome.response)
        response.background = BackgroundTask(after_response, service_id, outcome, data, release_fhir_garbage)
        return response

    @app.post("/cds-services/{service_id}/feedback", response_model=FeedbackResponse, responses={**ERRORS, 503: {
                  "model": OperationOutcome,
                  "description": "The ledger database is down and the local journal cannot take the feedback "
                  "either: nothing was stored, retry later (Retry-After)"}},
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": {"$ref": "#/components/schemas/FeedbackRequest"}}}}},
              summary="Feedback on cards (accepted / overridden)")
    async def feedback(service_id: str, request: Request) -> Response:
        pipeline.service(service_id)
        client = await check_auth(request, "feedback", service_id)
        data = await read_json(request, settings.max_json_depth)
        items = parse_feedback(data)
        try:
            stored, queued = await run_in_threadpool(partial(ledger.record_feedback, service_id, items,
                                                             issuer=client.iss if client else None,
                                                             tenant=client.tenant if client else None))
        except FeedbackError as err:
            raise BadRequest(err.message, expression=["feedback"]) from None
        except LedgerUnavailable:
            return outcome_response(503, "The feedback could not be stored: the ledger database is unreachable "
                                    "and the local journal is full or not writable. Nothing was stored; send it "
                                    "again later.", code="transient", headers={"Retry-After": "30"})
        observe_feedback(service_id, (item.outcome for item in items))
        body: dict[str, int] = {"stored": stored, "received": len(items)}
        if queued:  # the database is down: kept in the journal, validated and stored when it is back
            body["queued"] = queued
        return _json(body)

    @app.get("/analytics/rules", summary="Override analytics per rule (admin token)",
             response_model=AnalyticsResponse,
             responses={400: {"model": OperationOutcome, "description": "`since`/`until` not a date-time"},
                        401: ERRORS[401]})
    async def analytics(request: Request, since: str | None = None, until: str | None = None,
                        service: str | None = None) -> Response:
        # `since`/`until` arrive as text and are parsed only after the token check: an unauthenticated
        # caller learns nothing, not even which query values are valid (auth before validation)
        refused = admin_refusal(request, settings)
        if refused is not None:
            return refused
        since, until = analytics_window(since, until)
        from cds_service.store import report_json

        stats = await run_in_threadpool(partial(store.analytics, since, until, service_id=service))
        calls = await run_in_threadpool(partial(store.hook_calls, since, until, service_id=service))
        return _json({"rules": report_json(stats), "hook_calls": sum(calls.values()),
                      "hook_calls_per_day": [{"day": d, "hook_calls": n} for d, n in calls.items()]})

    install_probes(app, store, pipeline_packs, ledger)
    app.add_api_route("/metrics", metrics_endpoint(settings.metrics_token), methods=["GET"], include_in_schema=False)

    add_pages(app, settings)  # /static, /preview (CDS_PREVIEW=on), /dashboard and the analytics it reads

    # the request models join the OpenAPI components (bodies are read by hand for precise errors)
    _add_models_to_openapi(app)

    # outermost last: security headers on everything, CORS on errors too, size limit before any parsing
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(CORSMiddleware, **cors_options(settings))
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestTelemetryMiddleware,  # outermost: a request id and an access line for everything
                       services={spec.id: spec.hook for spec, _pack in pipeline.services.values()})
    return app


def make_ledger(settings: Settings, store: Store) -> Ledger:
    """The store behind its journal (settings.journal_dir, or the default beside the database)."""
    directory = settings.journal_dir or default_journal_dir(store.url)
    journal = Journal(directory, max_entries=settings.journal_max_entries) if directory is not None else None
    return Ledger(store, journal, retry_max=settings.journal_retry_max_seconds)


def _add_models_to_openapi(app: FastAPI) -> None:
    from fastapi.openapi.utils import get_openapi
    from pydantic.json_schema import models_json_schema

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                             description=app.description, routes=app.routes)
        _, defs = models_json_schema([(HookRequest, "validation"), (FeedbackRequest, "validation")],
                                     ref_template="#/components/schemas/{model}")
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        _only_responses_that_happen(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _only_responses_that_happen(schema: dict) -> None:
    """FastAPI documents a 422 for every operation with parameters; this app never sends one (invalid input
    gets a 400 OperationOutcome from `_validation_error`), so the 422s and their schemas go."""
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            operation.get("responses", {}).pop("422", None)
    text = orjson.dumps(schema.get("paths", {})).decode()
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        if f"/{name}\"" not in text and not any(f"/{name}\"" in orjson.dumps(s).decode()
                                               for n, s in components.items() if n != name):
            components.pop(name, None)


def __getattr__(name: str) -> FastAPI:
    """`cds_service.app:app` for uvicorn, built from the environment on first access."""
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
