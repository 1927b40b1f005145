"""CDS Hooks 2.0 wire models: what goes over HTTP, and nothing about any drug.

They document the API (OpenAPI) and validate feedback; hook requests are read by `hooks.request` so that a
malformed field gives a precise 400, and responses are plain dicts built by `cards` (no nulls, no empty
optionals), checked against these models in the tests.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Coding(_Wire):
    system: str
    code: str
    display: str | None = None


class Source(_Wire):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Wire):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Wire):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(_Wire):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None


class Card(_Wire):
    uuid: str | None = None
    summary: str = Field(max_length=139)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    links: list[Link] | None = None


class CardsResponse(_Wire):
    cards: list[Card]
    systemActions: list[Action] | None = None


class ServiceDefinition(_Wire):
    hook: str
    title: str | None = None
    description: str
    id: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class DiscoveryResponse(_Wire):
    services: list[ServiceDefinition]


class FhirAuthorization(_Wire):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


class HookContext(_Wire):
    userId: str | None = None
    patientId: str
    encounterId: str | None = None
    selections: list[str] | None = None
    draftOrders: dict[str, Any]


class HookRequest(_Wire):
    """A CDS Hooks 2.0 service call (order-select / order-sign)."""

    hook: str
    hookInstance: str
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: HookContext
    prefetch: dict[str, Any] | None = None


class OverrideReason(_Wire):
    reason: Coding | None = None
    userComment: str | None = None


class AcceptedSuggestion(_Wire):
    id: str


class FeedbackEntry(_Wire):
    """One feedback item. Besides the spec's `overrideReason`, clients send `overrideReasons` (Epic's
    documentation uses the plural: a list of OverrideReason objects, or of Codings) and reasons inside an
    `extension` object (Epic's extension reasons); every one of them is kept."""

    card: str = Field(min_length=1, max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    overrideReasons: list[dict[str, Any]] | None = Field(None, max_length=50)
    extension: dict[str, Any] | None = None
    outcomeTimestamp: str


class FeedbackRequest(_Wire):
    feedback: list[FeedbackEntry] = Field(min_length=1, max_length=500)


class OperationOutcomeIssue(_Wire):
    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    diagnostics: str | None = None
    expression: list[str] | None = None


class OperationOutcome(_Wire):
    resourceType: Literal["OperationOutcome"] = "OperationOutcome"
    issue: list[OperationOutcomeIssue]


class FeedbackResponse(BaseModel):
    """The service's answer to feedback (CDS Hooks defines none): how many entries were new, of how many."""

    model_config = ConfigDict(extra="forbid")
    stored: int = Field(ge=0, description="Entries stored now (a repeated entry is not stored twice).")
    received: int = Field(ge=1, description="Entries in the request.")
    queued: int | None = Field(None, ge=1, description="Present while the ledger database is down: entries kept "
                               "in the local journal, validated and stored when it is back (README: Ledger journal).")
