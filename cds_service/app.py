"""The ASGI application: `create_app(settings)` assembles it from the web layer's parts (lifespan, error
handlers, the CDS Hooks routes in `web.routes`, probes, metrics, pages, middleware); `app` is the one uvicorn
serves."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import orjson
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from cds_service import __version__, logsafe
from cds_service.hooks.models import FeedbackRequest, HookRequest
from cds_service.ops.docs_ui import install_docs
from cds_service.ops.logging_config import configure_logging
from cds_service.ops.metrics_route import metrics_endpoint
from cds_service.ops.probes import install_probes
from cds_service.ops.telemetry import RequestTelemetryMiddleware
from cds_service.pipeline import FetcherFactory, Pipeline
from cds_service.rules.base import RulePack
from cds_service.rules.registry import default_packs
from cds_service.security.dependency import cors_options
from cds_service.security.jwt import JwtVerifier, ThreadedReplayCache
from cds_service.security.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from cds_service.settings import Settings, get_settings
from cds_service.store import Store
from cds_service.store.journal import Journal
from cds_service.store.ledger import Ledger, default_journal_dir
from cds_service.web import add_pages
from cds_service.web.handlers import install_error_handlers
from cds_service.web.lifespan import lifespan
from cds_service.web.routes import Services, hook_routes

log = logging.getLogger("cds_service")


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
    release_fhir_garbage = getattr(fetcher_factory, "release_garbage", None)
    pipeline = Pipeline(settings, packs, fetcher_factory)
    inline_ledger = store.dialect == "sqlite"
    if settings.auth_mode == "jwt" and verifier is None:
        verifier = JwtVerifier(settings, ledger if inline_ledger else ThreadedReplayCache(ledger))

    app = FastAPI(
        title="cds-naltrexone",
        version=__version__,
        summary="CDS Hooks 2.0 service: naltrexone order safety checks and monitoring",
        description="Discovery, service calls (order-select, order-sign, patient-view) and feedback per CDS Hooks "
        "2.0. Every error is a FHIR OperationOutcome.",
        lifespan=lifespan(settings, store, ledger, fetcher_factory),
        docs_url=None,  # the offline page below (cds_service.ops.docs_ui), not FastAPI's CDN one
        redoc_url=None,
    )
    app.state.pipeline = pipeline
    app.state.store = store
    app.state.ledger = ledger
    app.state.settings = settings
    install_docs(app)
    install_error_handlers(app)
    app.include_router(hook_routes(Services(settings, pipeline, store, ledger, verifier, release_fhir_garbage,
                                            inline_ledger)))

    install_probes(app, store, packs, ledger)
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
    gets a 400 OperationOutcome from `web.handlers`), so the 422s and their schemas go."""
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
