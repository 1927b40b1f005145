"""Persistent card ledger, feedback store, JWT replay cache and override analytics.

Use: one `Store(settings.database_url, settings.patient_hash_key)` per process; `migrate()` at start-up
(safe from several workers at once); `record_issued(...)` before sending cards; `record_feedback(...)`
(FeedbackError: refuse the POST); `remember_jti(...)` (False: replayed token); `purge(...)` on a timer;
`format_report(store.analytics(since, until))` / `report_json(...)` for the report command.
"""

from cds_service.store.report import (
    DailyStats,
    ReasonCount,
    RuleStats,
    SuggestionStats,
    daily_json,
    format_report,
    per_100,
    report_json,
)
from cds_service.store.store import (
    FeedbackError,
    FeedbackItem,
    IssuedCard,
    IssuedSuggestion,
    Store,
    dedupe_key,
    normalise_url,
)

__all__ = [
    "DailyStats",
    "FeedbackError",
    "FeedbackItem",
    "IssuedCard",
    "IssuedSuggestion",
    "ReasonCount",
    "RuleStats",
    "Store",
    "SuggestionStats",
    "daily_json",
    "dedupe_key",
    "format_report",
    "normalise_url",
    "per_100",
    "report_json",
]
