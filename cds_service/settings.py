"""Service settings, read once from `CDS_*` environment variables.

Everything an operator may change lives here (clinical thresholds live with their rule pack, in
`cds_service.rules.<pack>.config`), so the README's settings table can be generated from one place.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent


class Settings(BaseSettings):
    """Runtime configuration of the service (environment variables prefixed `CDS_`)."""

    model_config = SettingsConfigDict(env_prefix="CDS_", env_file=None, extra="ignore")

    # --- serving -------------------------------------------------------------------------------
    public_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="Base URL clients use to reach the service (behind a proxy: the public one). "
        "JWT `aud` is checked against it.",
    )
    log_level: str = Field("INFO", description="Python log level.")
    log_format: Literal["json", "text"] = Field(
        "text", description="`json`: one JSON object per log line (app and uvicorn; the Docker image sets it); "
        "`text`: classic lines.")
    metrics_token: str | None = Field(
        None, description="Bearer token required for `/metrics`; unset: `/metrics` is open (restrict it at the "
        "proxy). It carries no patient data.")
    forwarded_allow_ips: str = Field(
        "", description="`python -m cds_service serve`: proxy addresses whose X-Forwarded-* headers are trusted "
        "(comma-separated IPs/CIDRs, `*` for any). Empty: none trusted, forwarding headers ignored.")
    today: date | None = Field(
        None,
        description="Evaluate as if today were this date (replaying a recorded request, tests). "
        "Unset in production: the real date is used.",
    )
    max_body_bytes: int = Field(5_000_000, description="Largest accepted request body; larger gets 413.")
    max_json_depth: int = Field(
        1024, description="Deepest accepted JSON nesting; deeper gets 400. 1024 is the JSON parser's own limit "
        "(free); a lower value adds a pass over the parsed body.")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed by CORS (JSON list). Empty: `*` when auth is off, none otherwise.",
    )

    # --- security (JWT from CDS clients) -------------------------------------------------------
    auth_mode: Literal["jwt", "off"] = Field("jwt", description="`jwt` verifies CDS Hooks JWTs; `off` trusts everyone.")
    client_profile: Literal["generic", "sandbox", "epic", "oracle"] = Field(
        "generic",
        description="Client profile of the responses when `CDS_AUTH_MODE=off` (with JWTs, each trusted issuer's "
        "`profile` decides): `generic`, `sandbox`, `epic` or `oracle` (see Connecting an EHR).",
    )
    trusted_issuers: Path = Field(
        PACKAGE_DIR / "security" / "trusted_issuers.json",
        description="JSON or YAML file listing trusted issuers and their keys (default: the CDS Hooks Sandbox).",
    )
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["ES384", "RS384"],
        description="Accepted JWT algorithms (ES256/RS256 may be added; `none` and HS* are always refused).",
    )
    jwt_clock_skew_seconds: int = Field(60, description="Clock skew tolerated on `exp`/`iat`.")
    jwt_max_age_seconds: int = Field(3600, description="Oldest accepted token (`iat`), and the replay window.")
    jku_timeout_seconds: float = Field(3.0, description="Timeout fetching an allowlisted `jku` key set.")
    jku_cache_seconds: int = Field(3600, description="How long a fetched `jku` key set is cached.")

    # --- FHIR server fallback ------------------------------------------------------------------
    fhir_request_timeout_seconds: float = Field(0.3, description="Timeout of one FHIR query.")
    fhir_deadline_seconds: float = Field(0.4, description="Overall deadline for all FHIR queries of one hook call.")
    fhir_max_pages: int = Field(5, description="Most `next` pages followed per query.")
    fhir_page_size: int = Field(
        500, ge=1, le=5000,
        description="`_count` asked for on each FHIR search: one page instead of a chain of sequential `next` "
        "pages (servers may send fewer).",
    )
    fhir_max_response_bytes: int = Field(
        5_000_000, ge=10_000,
        description="Largest FHIR answer read, counted both as received and after decompression (a gzip bomb is "
        "cut off at this size); a larger answer fails that data category. 5 MB, as `CDS_MAX_BODY_BYTES`.",
    )
    fhir_max_call_bytes: int = Field(
        20_000_000, ge=10_000,
        description="Largest total of all FHIR answers of one hook call (decompressed): what does not fit fails "
        "its category. Bounds a worker's memory whatever the server sends.",
    )
    fhir_allow_http: Literal["loopback", "always", "never"] = Field(
        "never", description="Accept an `http` fhirServer: never (default: the bearer token would travel in clear "
        "text, and a trusted client could make the service probe local ports), only on loopback (`make run` sets "
        "this for local sandboxes), or always."
    )

    # --- terminology ---------------------------------------------------------------------------
    site_conceptmap: Path | None = Field(
        None, description="FHIR ConceptMap (JSON) from the site's local medication, condition and lab codes to codes "
        "the rule packs classify; read once at start-up, a malformed map stops start-up (README: Terminology).")

    # --- storage -------------------------------------------------------------------------------
    database_url: str = Field(
        "sqlite:///./cds-naltrexone.sqlite3",
        description="SQLAlchemy URL of the card ledger, feedback and JWT replay cache "
        "(`postgresql+psycopg://user@host/db` for several instances).",
    )
    patient_hash_key: str = Field(
        "change-me-in-production",
        description="Secret key of the keyed hash (HMAC-SHA256) stored instead of patient ids.",
    )
    migrate_on_start: bool = Field(
        True, description="Run the database migrations when the app starts. Set false where a separate job runs "
        "`python -m cds_service migrate` (Kubernetes: the migration Job) and instances only check the schema.")
    journal_dir: Path | None = Field(
        None, description="Directory of the local journal that keeps cards and feedback while the ledger database "
        "is unreachable, replayed into it when it is back (README: Ledger journal). Shared by the workers of one "
        "host; put it on a persistent volume. Unset: beside a SQLite ledger file (`<file>.journal`), else "
        "`./cds-journal` (the Docker image: `/var/lib/cds-naltrexone/journal`).")
    journal_max_entries: int = Field(
        100_000, ge=1, description="Most entries (one per hook call with cards, or per feedback POST; about 1-2 KB "
        "each) the journal holds; when full, new cards are answered but not recorded and feedback gets 503.")
    journal_retry_max_seconds: float = Field(
        15.0, gt=0, description="Longest wait between two attempts to reach the database while it is down "
        "(exponential backoff from 0.5 s).")
    retention_days: int = Field(400, description="Ledger rows older than this are removed by `purge`.")
    admin_token: str | None = Field(
        None, description="Bearer token for `/analytics/*` and the `/dashboard` page; unset: analytics refused.")

    # --- browser pages -------------------------------------------------------------------------
    preview: bool = Field(
        False,
        description="`on` serves the integrator preview page `/preview` (cards of a fixture or a pasted request, "
        "rendered as an EHR shows them; nothing is written to the ledger). A development tool: `make run` turns "
        "it on; off, `/preview` answers 404 and is not in the OpenAPI document.",
    )
    preview_fixtures: Path | None = Field(
        None,
        description="Folder of fixture scenarios the preview offers (`<scenario>/order-sign.json`...). Unset: "
        "`fhir_fixtures/` of the source checkout the service runs from, else `./fhir_fixtures`; none there: the "
        "preview says so and offers pasting only.",
    )

    # --- silent mode (go-live) -----------------------------------------------------------------
    silent_rules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Rule ids that run silently (comma-separated, or `all`): their cards are written to the "
        "ledger marked silent and left out of the response. Switching back to shown needs no migration.",
    )
    silent_services: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Service ids (comma-separated) whose every card is silent, e.g. `naltrexone-order-select` "
        "during a silent period of that hook.",
    )

    @field_validator("silent_rules", "silent_services", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """`a,b`, `["a", "b"]` (JSON) or a list: the environment form is a plain comma-separated list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    def is_silent(self, service_id: str, rule_id: str) -> bool:
        """Whether a card of `rule_id` answered by `service_id` goes to the ledger only (silent mode)."""
        return service_id in self.silent_services or "all" in self.silent_rules or rule_id in self.silent_rules


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
