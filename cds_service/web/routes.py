"""The CDS Hooks endpoints (discovery, service calls, feedback) and the override analytics, as one router.

The handlers only connect HTTP to the pipeline and the store: authentication, the body read with its limits,
`Pipeline.run`, the client profile, the ledger write (durable before the EHR sees a card), the response.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import orjson
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cds_service.errors import BadRequest, ServiceError
from cds_service.hooks.body import read_json
from cds_service.hooks.models import CardsResponse, DiscoveryResponse, FeedbackResponse, OperationOutcome
from cds_service.ops.metrics import observe_feedback
from cds_service.ops.telemetry import note_hook_call
from cds_service.pipeline import Outcome, Pipeline
from cds_service.profiles import profile_cards
from cds_service.responses import error_response, outcome_response
from cds_service.security.admin import admin_refusal, analytics_window
from cds_service.security.dependency import authenticate
from cds_service.security.jwt import JwtVerifier, VerifiedClient
from cds_service.settings import Settings
from cds_service.store import FeedbackError, Store
from cds_service.store.ledger import Ledger, LedgerUnavailable
from cds_service.store.report import AnalyticsResponse
from cds_service.web.ledger import issued_cards, parse_feedback

ERRORS = {
    400: {"model": OperationOutcome, "description": "Malformed request (OperationOutcome says what)"},
    401: {"model": OperationOutcome, "description": "Missing or rejected JWT"},
    404: {"model": OperationOutcome, "description": "Unknown service"},
    413: {"model": OperationOutcome, "description": "Body too large"},
    415: {"model": OperationOutcome, "description": "Not JSON"},
}


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


async def release_after_error(release: Callable[[], None]) -> None:
    """After an error answer (a 412 after a hostile FHIR server): the release runs on the event loop, where
    the FHIR client schedules its collection (a sync background task would run it in a worker thread, racing
    the loop that is still unwinding the request)."""
    release()


@dataclass(frozen=True, slots=True)
class Services:
    """What the endpoints use, built once by `create_app`."""

    settings: Settings
    pipeline: Pipeline
    store: Store
    ledger: Ledger  # the store behind its journal: what hook calls and feedback write through
    verifier: JwtVerifier | None
    release_fhir_garbage: Callable[[], None] | None
    # measured (single worker, 4 connections, typical order): handing the sub-millisecond SQLite commit to
    # a thread made the CPU-bound event loop and the thread fight for the GIL: p99 205 ms -> 45 ms inline
    inline_ledger: bool


def hook_routes(s: Services) -> APIRouter:
    router = APIRouter()
    settings, pipeline, store, ledger = s.settings, s.pipeline, s.store, s.ledger

    async def check_auth(request: Request, kind: str, service_id: str | None = None) -> VerifiedClient | None:
        return await authenticate(request, settings, s.verifier, kind, service_id)

    @router.get("/cds-services", response_model=DiscoveryResponse, responses={401: ERRORS[401]},
                summary="CDS Hooks discovery")
    async def discovery(request: Request) -> Response:
        await check_auth(request, "discovery")
        return _json(pipeline.discovery())

    @router.post("/cds-services/{service_id}", response_model=CardsResponse,
                 responses={**ERRORS, 412: {"model": OperationOutcome, "description": "Required data unobtainable"}},
                 openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/HookRequest"}}}}},
                 summary="Call a CDS service (order-select / order-sign / patient-view)")
    async def call_service(service_id: str, request: Request) -> Response:
        pipeline.service(service_id)  # 404 before anything else
        client = await check_auth(request, "service", service_id)
        profile = client.profile if client is not None else settings.client_profile
        data = await read_json(request, settings.max_json_depth)
        try:
            outcome: Outcome = await pipeline.run(service_id, data)
        except ServiceError as err:  # a 412 after a hostile FHIR server: its garbage is released too
            response = error_response(err)
            if s.release_fhir_garbage is not None:  # on the event loop (an async task), as after a 200
                response.background = BackgroundTask(release_after_error, s.release_fhir_garbage)
            return response
        if profile != "generic" and outcome.cards:
            # reshaped for the client, with the suggestion uuids it receives (the ledger stores those)
            outcome = replace(outcome, cards=tuple(profile_cards(profile, outcome.cards)))
        body = outcome.response  # what the EHR sees (silent cards are not in it, in any profile)
        if outcome.evaluation is not None and outcome.call is not None:
            # durable before the EHR sees the cards: a card it received is in the ledger, or in the journal
            # (fsynced) while the database is down; either failing is logged, the cards are answered anyway.
            # Silent cards go there too (marked), and the call is counted: the denominator of "per 100 hook
            # calls". The rows come from the findings and the uuids sent, keyed on the rule id.
            ledger_cards = issued_cards(outcome.cards) + issued_cards(outcome.silent, silent=True)
            write = partial(ledger.record_issued, service_id=service_id, hook=outcome.service.hook,
                            hook_instance=outcome.call.hook_instance, patient_id=outcome.call.patient_id,
                            cards=ledger_cards, issuer=client.iss if client else None,
                            tenant=client.tenant if client else None, count_call=True)
            if s.inline_ledger and not ledger.database_down:
                write()  # a local SQLite commit (~0.25 ms): a thread hop costs more in GIL convoys than it saves
            else:
                await run_in_threadpool(write)  # a network round trip must not stall the event loop
        note_hook_call(request, service_id, outcome.service.hook,
                       outcome.call.hook_instance if outcome.call is not None else None,
                       [(c.rule_id, c.card["indicator"]) for c in outcome.cards])
        response = _json(body)
        response.background = BackgroundTask(after_response, service_id, outcome, data, s.release_fhir_garbage)
        return response

    @router.post("/cds-services/{service_id}/feedback", response_model=FeedbackResponse, responses={**ERRORS, 503: {
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

    @router.get("/analytics/rules", summary="Override analytics per rule (admin token)",
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

    return router
