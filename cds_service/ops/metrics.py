"""Prometheus metrics (prometheus-client) and the `/metrics` endpoint.

Every series is module-level, so the code that observes it (app, FHIR client, store, JWT errors) imports this
leaf module and nothing else. Label values are bounded, known sets: service ids of registered services, hook
names, rule ids, card indicators, HTTP status codes, route templates, JWT failure kinds, FHIR query categories
(prefetch keys or resource types) and outcome classes. Never a patient id, a token, a path as sent, or a
free-text reason.

Several uvicorn workers: set `PROMETHEUS_MULTIPROC_DIR` to an empty directory shared by the workers before
they start (`python -m cds_service serve --workers N` does it by itself). prometheus-client then keeps each
worker's values in memory-mapped files there, and `/metrics` on any worker sums them. The process metrics
(`process_*`) are those of the worker that answered the scrape.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

disable_created_metrics()  # no `*_created` twin for every counter and histogram series
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# hook calls: sub-millisecond for unrelated orders, a few ms typical, up to ~1 s for the extreme patient
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

HOOK_DURATION = Histogram(
    "cds_hook_duration_seconds", "Time to answer a CDS Hooks service call (until the response is sent).",
    ["service", "hook"], buckets=LATENCY_BUCKETS)
CARDS = Counter("cds_cards_total", "Cards returned, by rule id and indicator.", ["service", "rule_id", "indicator"])
RESPONSES = Counter("cds_http_responses_total", "HTTP responses, by route template and status code.",
                    ["route", "status"])
JWT_REJECTS = Counter("cds_jwt_rejected_total", "Rejected JWTs, by kind of failure.", ["kind"])
FHIR_REQUESTS = Counter("cds_fhir_requests_total", "FHIR-server fallback queries, by category and outcome.",
                        ["category", "outcome"])
FHIR_DURATION = Histogram("cds_fhir_request_duration_seconds", "Time of one FHIR-server fallback query "
                          "(all its pages), by category.", ["category"], buckets=LATENCY_BUCKETS)
LEDGER_COMMIT = Histogram("cds_ledger_commit_duration_seconds", "Time to write and commit one hook call's cards "
                          "to the ledger.", ["dialect"], buckets=FAST_BUCKETS)
FEEDBACK = Counter("cds_feedback_total", "Feedback entries received, by service and outcome.",
                   ["service", "outcome"])
READINESS = Gauge("cds_readiness", "Readiness checks: 1 for the state a check was last seen in, else 0.",
                  ["check", "state"], multiprocess_mode="mostrecent")
READINESS_STATES = ("ok", "degraded", "fail")
# the journal (cds_service.store.ledger): every worker sets the gauge to the count of the shared directory
JOURNAL_PENDING = Gauge("cds_journal_pending_entries", "Ledger writes waiting in the local journal for the "
                        "database (cards and feedback).", multiprocess_mode="mostrecent")
JOURNAL_WRITES = Counter("cds_journal_writes_total", "Ledger writes put in the local journal, by kind (cards, "
                         "feedback) and result (written; full or error: the journal could not take it).",
                         ["kind", "result"])
JOURNAL_REPLAYS = Counter("cds_journal_replays_total", "Journal entries replayed into the ledger database, by kind "
                          "and result (stored; rejected: refused for good, kept in rejected/).", ["kind", "result"])
LEDGER_FAILURES = Counter("cds_ledger_failures_total", "Ledger database operations that failed, by operation "
                          "(cards, feedback, replay-cache, replay, probe).", ["operation"])


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def observe_cards(service: str, cards: Iterable[tuple[str, str]]) -> None:
    """Cards answered, as (rule id, indicator): the rule id, never the topic code a client profile shows."""
    for rule_id, indicator in cards:
        CARDS.labels(service, rule_id, indicator).inc()


def observe_jwt_reject(kind: str) -> None:
    JWT_REJECTS.labels(kind).inc()


def observe_fhir(category: str, outcome: str, seconds: float) -> None:
    FHIR_REQUESTS.labels(category, outcome).inc()
    FHIR_DURATION.labels(category).observe(seconds)


def observe_feedback(service: str, outcomes: Iterable[str]) -> None:
    for outcome in outcomes:
        FEEDBACK.labels(service, outcome).inc()


def observe_readiness(check: str, state: str) -> None:
    for candidate in READINESS_STATES:
        READINESS.labels(check, candidate).set(1 if candidate == state else 0)


def observe_journal_pending(count: int) -> None:
    JOURNAL_PENDING.set(count)


def observe_journal_write(kind: str, result: str) -> None:
    JOURNAL_WRITES.labels(kind, result).inc()


def observe_journal_replay(kind: str, result: str, n: int = 1) -> None:
    JOURNAL_REPLAYS.labels(kind, result).inc(n)


def observe_ledger_failure(operation: str) -> None:
    LEDGER_FAILURES.labels(operation).inc()


class ledger_timer:
    """`with ledger_timer("sqlite"): commit()` observes the commit time (also when it fails)."""

    __slots__ = ("_dialect", "_start")

    def __init__(self, dialect: str) -> None:
        self._dialect = dialect

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        LEDGER_COMMIT.labels(self._dialect).observe(time.perf_counter() - self._start)


def exposition() -> bytes:
    """The text exposition of every series (summed over workers in multiprocess mode)."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    ProcessCollector(registry=registry)  # the answering worker's own process metrics
    return generate_latest(registry)
