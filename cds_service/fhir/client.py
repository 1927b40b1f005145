"""FHIR-server fallback: fetch what prefetch did not bring from the EHR's `fhirServer` (CDS Hooks 2.0 §prefetch).

One `FhirFetcherFactory` per process owns one pooled `httpx.AsyncClient`; each hook call gets its own
`FhirFetcher` (the call's server, token and deadline). Rules of the road:

* all queries of a call run concurrently, under one overall deadline (`fhir_deadline_seconds`, counted from
  the call's first FHIR request, shared by `fetch` and `read_many`) and a per-request timeout;
* `next` pages are followed (at most `fhir_max_pages` of them per query), sequentially per query;
* the bearer token is sent only to the `fhirServer` origin (scheme, host, port): a `next` link or reference
  elsewhere fails that query; redirects are never followed;
* every failure is a sentence a clinician can read (it ends up in the data-incomplete card or the 412);
  nothing here raises into the pipeline, and the token is never logged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx
import orjson

from cds_service.fhir.gather import FetchError, FetchResult
from cds_service.fhir.read import FHIR_ID, as_list, is_fhir_id, outcome_text, text
from cds_service.hooks.request import HookCall
from cds_service.ops.metrics import observe_fhir
from cds_service.settings import Settings

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
_READ = re.compile(rf"^[A-Z][A-Za-z]{{1,63}}/{FHIR_ID}$")  # Type/id
_MAX_BODY = 20_000_000  # bytes of one answer; a larger one is refused (memory)
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _seconds(value: float) -> str:
    return f"{value:g} s"


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    scheme = url.scheme.lower()
    port = url.port or {"https": 443, "http": 80}.get(scheme)
    return scheme, url.host.lower(), port


def is_loopback(host: str) -> bool:
    host = host.lower().strip("[]")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8, ::1
    except ValueError:
        return False


def server_refusal(server: str, allow_http: str) -> str | None:
    """Why this `fhirServer` is not used (None: it is fine)."""
    try:
        url = httpx.URL(server)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "the request's fhirServer is not a valid URL"
    if url.scheme not in ("http", "https") or not url.host:
        return "the request's fhirServer is not an http(s) URL"
    if url.username or url.password:
        return "the request's fhirServer URL carries credentials, which this service does not use"
    refused = allow_http == "never" or (allow_http == "loopback" and not is_loopback(url.host))
    if url.scheme == "http" and refused:
        where = "" if allow_http == "never" else " except on this machine (loopback)"
        return (f"the FHIR server address is unencrypted http://, which this service does not accept{where}: "
                "the access token would travel in clear text (ask for the https:// FHIR endpoint)")
    return None


def _status_reason(response: httpx.Response) -> str:
    status = response.status_code
    if status in (401, 403):
        return f"the FHIR server refused access ({status})"
    if status == 404:
        return "the FHIR server does not know this resource or search (404)"
    if status == 429:
        return "the FHIR server is too busy (429)"
    if 300 <= status < 400:
        return f"the FHIR server redirected the request ({status}); redirects are not followed"
    if status >= 500:
        return f"server error ({status})"
    reason = f"the FHIR server rejected the query ({status})"
    try:
        diagnostics = outcome_text(orjson.loads(response.content))
    except orjson.JSONDecodeError:
        diagnostics = None
    return f"{reason}: {diagnostics}" if diagnostics else reason


def _parse(response: httpx.Response, expect: str) -> dict:
    """The JSON body if it is a `expect` resource (Bundle for searches), else FetchError."""
    if response.status_code != 200:
        raise FetchError(_status_reason(response), "http-status")
    what = "a FHIR Bundle" if expect == "Bundle" else f"a FHIR {expect}"
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and "json" not in ctype:
        raise FetchError(f"the answer was not {what} ({ctype[:60]})")
    if len(response.content) > _MAX_BODY:
        raise FetchError(f"the answer was too large (more than {_MAX_BODY // 1_000_000} MB)")
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise FetchError(f"the answer was not {what} (not valid JSON)") from None
    if not isinstance(body, dict):
        raise FetchError(f"the answer was not {what}")
    diagnostics = outcome_text(body)
    if diagnostics is not None:
        raise FetchError(f"the answer was not {what} but an error (OperationOutcome)"
                         + (f": {diagnostics}" if diagnostics else ""))
    if body.get("resourceType") != expect:
        found = text(body.get("resourceType"))
        raise FetchError(f"the answer was not {what}" + (f" (it was a {found[:40]})" if found else ""))
    return body


def with_page_size(query: str, page_size: int) -> str:
    """A search asks for `_count` results per page (unless it says itself); reads stay as they are.

    Measured against the local FHIR server with its default page size of 20: a 50-result search took three
    sequential pages, and the no-prefetch hook call waited for the slowest chain (30 ms instead of 20 ms).
    """
    if "?" not in query or re.search(r"[?&]_count=", query):
        return query
    return f"{query}&_count={page_size}"


def _page_resources(bundle: dict) -> list[dict]:
    """Matches and includes of a searchset page; `outcome` entries (warnings about the search) are dropped."""
    out: list[dict] = []
    for entry in as_list(bundle.get("entry")):
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue
        out.append(entry["resource"])
    return out


def _next_link(bundle: dict) -> str | None:
    for link in as_list(bundle.get("link")):
        if isinstance(link, dict) and link.get("relation") == "next" and text(link.get("url")):
            return link["url"]
    return None


@dataclass(slots=True)
class QueryStat:
    key: str
    seconds: float
    pages: int
    resources: int
    status: str  # "ok" or the failure reason


@dataclass(slots=True)
class Stats:
    """What one hook call's FHIR traffic looked like (for the log line and measurements)."""

    queries: list[QueryStat] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def slowest(self) -> QueryStat | None:
        return max(self.queries, key=lambda q: q.seconds, default=None)


class FhirFetcher:
    """The FHIR access of one hook call (implements `fhir.gather.Fetcher`)."""

    def __init__(self, factory: FhirFetcherFactory, server: str, token: str, refusal: str | None = None) -> None:
        self._factory = factory
        self._settings = factory.settings
        self.server = server.rstrip("/")
        self._token = token
        self._refusal = refusal
        self._base = httpx.URL(self.server + "/") if refusal is None else None
        self._origin = origin(self._base) if self._base is not None else None
        self._deadline: float | None = None  # loop time; set by the first request of the call
        self.stats = Stats()

    def __repr__(self) -> str:  # never show the token
        return f"FhirFetcher(server={self.server!r})"

    # -- the Fetcher protocol ------------------------------------------------------------------

    async def fetch(self, queries: dict[str, str], continue_from: dict[str, str]) -> FetchResult:
        size = self._settings.fhir_page_size
        jobs = {key: (with_page_size(q, size), False) for key, q in queries.items()}
        jobs.update({key: (url, True) for key, url in continue_from.items() if key not in jobs})
        if not jobs:
            return FetchResult({}, {})
        if self._refusal is not None:
            return FetchResult({}, dict.fromkeys(jobs, self._refusal))
        t0 = time.perf_counter()
        outcomes = await asyncio.gather(*(self._run_query(key, url, cont) for key, (url, cont) in jobs.items()))
        resources: dict[str, list[dict]] = {}
        failed: dict[str, str] = {}
        for key, (found, reason) in zip(jobs, outcomes, strict=True):
            if reason is None:
                resources[key] = found
            else:
                failed[key] = reason
        self._log_summary("queries", len(jobs), time.perf_counter() - t0, failed)
        return FetchResult(resources, failed)

    async def read_many(self, refs: Sequence[str]) -> dict[str, dict]:
        wanted = [r for r in dict.fromkeys(refs)
                  if isinstance(r, str) and _READ.match(r) and is_fhir_id(r.partition("/")[2])]
        if not wanted or self._refusal is not None:
            return {}
        t0 = time.perf_counter()
        outcomes = await asyncio.gather(*(self._run_query(ref, ref, False) for ref in wanted))
        found: dict[str, dict] = {}
        failed: dict[str, str] = {}
        for ref, (resources, reason) in zip(wanted, outcomes, strict=True):
            if reason is None and resources:
                found[ref] = resources[0]
            else:
                failed[ref] = reason or "not found"
        self._log_summary("reads", len(wanted), time.perf_counter() - t0, failed)
        return found

    # -- internals -----------------------------------------------------------------------------

    def _log_summary(self, what: str, count: int, wall: float, failed: dict[str, str]) -> None:
        self.stats.wall_seconds += wall
        mine = self.stats.queries[-count:]
        slowest = max(mine, key=lambda q: q.seconds, default=None)
        log.info("FHIR fallback: %d %s in %.1f ms wall, slowest %s %.1f ms, %d resources%s",
                 count, what, wall * 1000, slowest.key if slowest else "-",
                 (slowest.seconds * 1000) if slowest else 0.0, sum(q.resources for q in mine),
                 f", failed: {', '.join(sorted(failed))}" if failed else "")

    def _remaining(self) -> float:
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            self._deadline = loop.time() + self._settings.fhir_deadline_seconds
        return self._deadline - loop.time()

    def _resolve(self, url: str) -> httpx.URL | None:
        """Absolute URL on the fhirServer origin, or None when it points elsewhere."""
        assert self._base is not None and self._origin is not None
        try:
            target = httpx.URL(urljoin(str(self._base), url.lstrip("/") if "://" not in url else url))
        except (httpx.InvalidURL, ValueError):
            return None
        if not target.host or origin(target) != self._origin:
            return None
        return target

    async def _run_query(self, key: str, first: str, continuation: bool) -> tuple[list[dict], str | None]:
        """All pages of one query (or one read): (resources, None) or ([], reason)."""
        start = time.perf_counter()
        resources: list[dict] = []
        pages = 0
        outcome = "ok"
        try:
            remaining = self._remaining()
            if remaining <= 0:
                raise FetchError(self._deadline_reason(), "timeout")
            async with asyncio.timeout(remaining):
                resources, pages = await self._pages(key, first, continuation)
            reason = None
        except FetchError as err:
            reason, outcome = err.reason, err.kind
        except TimeoutError:
            reason, outcome = self._deadline_reason(), "timeout"
        except httpx.TimeoutException:
            reason, outcome = self._request_timeout_reason(), "timeout"
        except httpx.ConnectError:
            # one sentence for a refused connection, a reset and a non-HTTP answer alike: the clinician cannot
            # act on the difference, and a caller must not learn from it what listens on a port (the metric,
            # for operators only, keeps the kind)
            reason, outcome = "could not reach the FHIR server", "connect-error"
        except httpx.HTTPError:
            reason, outcome = "could not reach the FHIR server", "http-error"
        except Exception as err:  # a FHIR problem must never become a 500
            log.warning("FHIR query %s failed unexpectedly: %s", key, type(err).__name__)
            reason, outcome = "unexpected error while reading the FHIR server's answer", "error"
        seconds = time.perf_counter() - start
        # a bounded label: the prefetch key of a query, the resource type of a read (never its id)
        observe_fhir(key.split("/", 1)[0] if _READ.match(key) else key, outcome, seconds)
        self.stats.queries.append(QueryStat(key, seconds, pages, len(resources), reason or "ok"))
        if reason is not None:
            log.debug("FHIR %s failed after %.1f ms (%d pages): %s", key, seconds * 1000, pages, reason)
            return [], reason
        return resources, None

    def _request_timeout_reason(self) -> str:
        return f"the FHIR server timed out after {_seconds(self._settings.fhir_request_timeout_seconds)}"

    def _deadline_reason(self) -> str:
        return f"the FHIR server timed out after {_seconds(self._settings.fhir_deadline_seconds)}"

    async def _pages(self, key: str, first: str, continuation: bool) -> tuple[list[dict], int]:
        is_read = not continuation and "?" not in first and bool(_READ.match(first))
        expect = first.split("/", 1)[0] if is_read else "Bundle"
        url: str | None = first
        resources: list[dict] = []
        pages = 0
        followed = 1 if continuation else 0  # a continuation starts at the client's first `next` link
        max_next = self._settings.fhir_max_pages
        while url is not None:
            if followed > max_next:
                raise FetchError(f"too many pages (more than {max_next + 1}; at most {max_next} next pages "
                                 "are read)", "refused")
            target = self._resolve(url)
            if target is None:
                raise FetchError("a next page pointed to another server than the fhirServer; "
                                 "not followed (the access token is only sent to the fhirServer)"
                                 if pages or continuation else "the query does not address the fhirServer",
                                 "refused")
            page_start = time.perf_counter()
            per_request = self._settings.fhir_request_timeout_seconds
            try:
                # httpx times each phase (connect, each read); this bounds the whole exchange
                async with asyncio.timeout(per_request):
                    response = await self._factory.http().get(
                        target, headers={"Authorization": f"Bearer {self._token}"}, timeout=per_request)
            except TimeoutError:
                raise FetchError(self._request_timeout_reason(), "timeout") from None
            pages += 1
            body = _parse(response, expect)
            found = [body] if is_read else _page_resources(body)
            log.debug("FHIR %s page %d: %d in %.1f ms, %d resources", key, pages, response.status_code,
                      (time.perf_counter() - page_start) * 1000, len(found))
            resources.extend(found)
            url = None if is_read else _next_link(body)
            if url is not None:
                followed += 1
        return resources, pages


class FhirFetcherFactory:
    """Builds one `FhirFetcher` per hook call; owns the pooled HTTP client (close with `aclose()`).

    An `http://` fhirServer that `fhir_allow_http` forbids still gets a fetcher, one whose every query fails
    with the reason: the clinician then sees *why* data is missing (data-incomplete card, or a 412 naming
    it), instead of a misleading "no FHIR access" -- and the token is never sent in clear text.
    """

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None,
                 client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._transport = transport
        self._client = client
        self._owns_client = client is None

    def http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                headers={"Accept": FHIR_JSON},
                follow_redirects=False,
                timeout=httpx.Timeout(self.settings.fhir_request_timeout_seconds),
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30.0),
            )
        return self._client

    def __call__(self, call: HookCall) -> FhirFetcher | None:
        if not call.fhir_server or not call.access_token:
            return None
        refusal = server_refusal(call.fhir_server, self.settings.fhir_allow_http)
        if refusal is not None:
            log.warning("FHIR fallback refused for hook %s: %s", call.hook_instance[:64], refusal)
        return FhirFetcher(self, call.fhir_server, call.access_token, refusal)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()
