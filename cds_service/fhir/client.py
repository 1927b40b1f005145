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
import gc
import ipaddress
import logging
import re
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin

import httpx
import orjson

from cds_service.fhir.gather import FetchError, FetchResult
from cds_service.fhir.read import FHIR_ID, as_list, is_fhir_id, outcome_text, search_matches, text
from cds_service.ops.metrics import observe_fhir
from cds_service.settings import Settings

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
_READ = re.compile(rf"^[A-Z][A-Za-z]{{1,63}}/{FHIR_ID}$")  # Type/id
_ERROR_BODY = 65_536  # bytes read of a non-200 answer (its OperationOutcome's diagnostics)
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
                "patient data and any access token would travel in clear text (ask for the https:// FHIR endpoint)")
    return None


@dataclass(slots=True)
class Answer:
    """One FHIR answer, read with the byte limits: status, content type and the decoded body."""

    status: int
    content_type: str
    body: bytes


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_MALLOC_TRIM = _load_malloc_trim()
GARBAGE_DELAY = 0.05  # seconds after a cut-off call's response before its garbage is collected (see below)


def _trim_heap() -> None:
    """Give freed heap pages back to the OS (glibc keeps the 64 KB chunks of a cut-off stream otherwise:
    measured, RSS crept up ~1.5 MB a call without it)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class CallBudget:
    """Bytes all the answers of one hook call may add up to (decompressed): eight searches of a full page
    each must not hold several hundred MB of parsed JSON in one worker."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise FetchError(f"the FHIR server's answers to this call were too large together (more than "
                             f"{self.limit / 1_000_000:g} MB)")


class Download:
    """Reads one response body with a byte limit on the bytes received *and* on the bytes decompressed.

    httpx would decode gzip in full before anyone could look at the size (a 10 MB gzip bomb is 10 GB of
    zeros); here the raw stream is inflated in bounded steps (`max_length`), so memory stays within the
    limit whatever the ratio, and the caller's deadline covers every step.
    """

    ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})
    STEP = 1 << 20  # bytes inflated at a time

    def __init__(self, limit: int, budget: CallBudget | None = None) -> None:
        self.limit = limit
        self.budget = budget
        self.received = 0
        self.decoded = 0
        self.chunks: list[bytes] = []

    def too_large(self) -> FetchError:
        return FetchError(f"the answer was too large (more than {self.limit / 1_000_000:g} MB)")

    def _keep(self, data: bytes) -> None:
        self.decoded += len(data)
        if self.decoded > self.limit:
            raise self.too_large()
        if self.budget is not None:
            self.budget.spend(len(data))
        if data:
            self.chunks.append(data)

    async def read(self, response: httpx.Response, cap: int | None = None) -> bytes:
        limit = self.limit if cap is None else min(cap, self.limit)
        self.limit = limit
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in self.ENCODINGS:
            raise FetchError(f"the answer used an unsupported content encoding ({encoding[:20]})")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self.too_large()
        inflate = zlib.decompressobj(wbits=47) if encoding in ("gzip", "x-gzip", "deflate") else None
        if response.is_stream_consumed:  # an in-memory response (a test transport): httpx holds it decoded
            self.received = self.decoded = len(response.content)
            if self.decoded > limit:
                raise self.too_large()
            return response.content
        try:
            async for raw in response.aiter_raw():
                self.received += len(raw)
                if self.received > limit:
                    raise self.too_large()
                if inflate is None:
                    self._keep(raw)
                    continue
                data = inflate.decompress(raw, min(limit - self.decoded + 1, self.STEP))
                self._keep(data)
                while inflate.unconsumed_tail:
                    await asyncio.sleep(0)  # between steps the deadline can cut in
                    self._keep(inflate.decompress(inflate.unconsumed_tail, min(limit - self.decoded + 1, self.STEP)))
            if inflate is not None:
                self._keep(inflate.flush())
        except zlib.error:
            raise FetchError("the answer's compressed body is corrupt") from None
        body = b"".join(self.chunks)
        self.chunks.clear()
        return body


def _status_reason(answer: Answer) -> str:
    status = answer.status
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
        diagnostics = outcome_text(orjson.loads(answer.body))
    except orjson.JSONDecodeError:
        diagnostics = None
    return f"{reason}: {diagnostics}" if diagnostics else reason


def _parse(answer: Answer, expect: str) -> dict:
    """The JSON body if it is a `expect` resource (Bundle for searches), else FetchError."""
    if answer.status != 200:
        raise FetchError(_status_reason(answer), "http-status")
    what = "a FHIR Bundle" if expect == "Bundle" else f"a FHIR {expect}"
    ctype = answer.content_type
    if ctype and "json" not in ctype:
        raise FetchError(f"the answer was not {what} ({ctype[:60]})")
    try:
        body = orjson.loads(answer.body)
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
    """Matches and includes of a searchset page; `outcome` entries are dropped: informational ones (Epic's
    "no results") mean nothing more, an error or fatal one fails the query (FetchError)."""
    matches, problem = search_matches(bundle)
    if problem is not None:
        raise FetchError(f"the FHIR server's search reported an error: {problem}")
    return matches


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

    def __init__(self, factory: FhirFetcherFactory, server: str, token: str | None, refusal: str | None = None,
                 token_expires_at: float | None = None) -> None:
        self._factory = factory
        self._settings = factory.settings
        self.server = server.rstrip("/")
        self._token = token
        self._refusal = refusal
        self._base = httpx.URL(self.server + "/") if refusal is None else None
        self._origin = origin(self._base) if self._base is not None else None
        # an open FHIR server (CDS Hooks 2.0: `fhirServer` without `fhirAuthorization`) is read without a token
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._deadline: float | None = None  # loop time; set by the first request of the call
        self._token_expires_at = token_expires_at  # time.monotonic(); None: no expires_in was given
        self._deadline_monotonic: float | None = None  # the same instant on time.monotonic()
        self._budget = CallBudget(self._settings.fhir_max_call_bytes)
        self._aborted = False  # a response was cut off: its garbage is collected when the batch is done
        self.stats = Stats()
        self.failed_reads: dict[str, str] = {}  # reference -> why `read_many` could not read it

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
        self._release_aborted()
        return FetchResult(resources, failed)

    async def read_many(self, refs: Sequence[str]) -> dict[str, dict]:
        wanted = [r for r in dict.fromkeys(refs)
                  if isinstance(r, str) and _READ.match(r) and is_fhir_id(r.partition("/")[2])]
        if self._refusal is not None:
            self.failed_reads.update(dict.fromkeys(wanted, self._refusal))
            return {}
        if not wanted:
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
        self.failed_reads.update(failed)
        self._log_summary("reads", len(wanted), time.perf_counter() - t0, failed)
        self._release_aborted()
        return found

    # -- internals -----------------------------------------------------------------------------

    def _release_aborted(self) -> None:
        """A response was cut off (timeout, too large, cancelled): its garbage is collected after the send."""
        if self._aborted:
            self._aborted = False
            self._factory.garbage_pending = True

    def _log_summary(self, what: str, count: int, wall: float, failed: dict[str, str]) -> None:
        self.stats.wall_seconds += wall
        mine = self.stats.queries[-count:]
        slowest = max(mine, key=lambda q: q.seconds, default=None)
        log.info("FHIR fallback: %d %s in %.1f ms wall, slowest %s %.1f ms, %d resources%s",
                 count, what, wall * 1000, slowest.key if slowest else "-",
                 (slowest.seconds * 1000) if slowest else 0.0, sum(q.resources for q in mine),
                 f", failed: {', '.join(sorted(failed))}" if failed else "")

    @property
    def deadline(self) -> float | None:
        """The call's FHIR deadline on time.monotonic(), once the first request ran:
        the reading of what was fetched runs under the same budget."""
        return self._deadline_monotonic

    def _remaining(self) -> float:
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            self._deadline = loop.time() + self._settings.fhir_deadline_seconds
            self._deadline_monotonic = time.monotonic() + self._settings.fhir_deadline_seconds
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
            if self._token_expires_at is not None and time.monotonic() >= self._token_expires_at:
                raise FetchError("the FHIR access token expired (fhirAuthorization.expires_in) before this "
                                 "query; not sent", "refused")
            page_start = time.perf_counter()
            per_request = self._settings.fhir_request_timeout_seconds
            try:
                # httpx times each phase (connect, each read); this bounds the whole exchange, body included:
                # a server that drips bytes or streams without end is cut off here
                async with asyncio.timeout(per_request):
                    answer = await self._get(target, per_request)
            except TimeoutError:
                raise FetchError(self._request_timeout_reason(), "timeout") from None
            pages += 1
            body = _parse(answer, expect)
            del answer  # the raw bytes are not needed once parsed
            if self._remaining() <= 0:  # parsing is CPU under the same deadline
                raise FetchError(self._deadline_reason(), "timeout")
            found = [body] if is_read else _page_resources(body)
            log.debug("FHIR %s page %d in %.1f ms, %d resources", key, pages,
                      (time.perf_counter() - page_start) * 1000, len(found))
            resources.extend(found)
            url = None if is_read else _next_link(body)
            if url is not None:
                followed += 1
        return resources, pages

    async def _get(self, target: httpx.URL, timeout: float) -> Answer:
        """GET one URL, streamed: the body is read with the byte limits, and the response is always released
        (closed on a timeout or an error too, so no half-read response lingers in a reference cycle)."""
        http = self._factory.http()
        request = http.build_request("GET", target, timeout=timeout,
                                     headers={**self._headers, "Accept-Encoding": "gzip, deflate"})
        download = Download(self._settings.fhir_max_response_bytes, self._budget)
        response = await http.send(request, stream=True)
        complete = False
        try:
            ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code == 200:
                answer = Answer(200, ctype, await download.read(response))
                complete = True
                return answer
            try:  # an error's OperationOutcome is read for its diagnostics, if it is small
                body = await download.read(response, _ERROR_BODY)
            except FetchError:
                body = b""
            complete = True
            return Answer(response.status_code, ctype, body)
        finally:
            download.chunks.clear()
            await response.aclose()
            if not complete:
                self._aborted = True


class FhirAccess(Protocol):
    """What the fallback needs from a hook call (`hooks.request.HookCall` has it): the FHIR server, its token
    (why it must not be used, when it expires), and the hook instance for the log. A protocol, so that `fhir`
    never imports the CDS Hooks layer."""

    @property
    def fhir_server(self) -> str | None: ...
    @property
    def access_token(self) -> str | None: ...
    @property
    def hook_instance(self) -> str: ...
    @property
    def token_refusal(self) -> str | None: ...
    @property
    def token_expires_at(self) -> float | None: ...


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
        self.garbage_pending = False  # a response was cut off since the last release_garbage()
        self._collection: asyncio.TimerHandle | None = None  # the collection due on the event loop
        self._collect_again = False  # a release came while one was due: collect once more after it

    def release_garbage(self) -> None:
        """Collect the garbage cut-off responses left behind (the app calls it after a hook's response is sent).

        Measured with a server that streams without end: the cut-off exchanges (httpcore connection state,
        buffers, exception tracebacks) sit in reference cycles, and with the raised GC threshold a worker grew
        by ~13 MB a call to 750 MB before full collections caught up. One collection (the start-up heap is
        frozen, so it scans only the live requests) and a heap trim keep RSS flat; calls whose answers were
        read in full never pay for it.

        The collection runs on the event loop a moment after the response (`GARBAGE_DELAY`), not at once:
        until the request's task has unwound, its frames still hold the cut-off exchange. Measured (mallinfo2)
        when it ran at once: in about one endless-stream call in three, 40-50 MB were still in use at the
        collection, freed by reference counting a loop iteration later and then never given back to the OS
        (glibc keeps freed heap until a trim), so they stayed resident until the next cut-off call."""
        if not self.garbage_pending:
            return
        self.garbage_pending = False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the event loop: nothing left to unwind
            self._collect()
            return
        if self._collection is None:
            self._collection = loop.call_later(GARBAGE_DELAY, self._collect)
        else:  # one is already due: this call's garbage gets the next one
            self._collect_again = True

    def _collect(self) -> None:
        self._collection = None
        gc.collect()
        _trim_heap()
        if self._collect_again:
            self._collect_again = False
            self._collection = asyncio.get_running_loop().call_later(GARBAGE_DELAY, self._collect)

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

    def __call__(self, call: FhirAccess) -> FhirFetcher | None:
        """A fetcher for the call's `fhirServer`, with its token when it sent `fhirAuthorization`, without one
        when it did not (CDS Hooks 2.0 allows an open FHIR server); None without a `fhirServer`."""
        if not call.fhir_server:
            return None
        refusal = server_refusal(call.fhir_server, self.settings.fhir_allow_http) or call.token_refusal
        if refusal is not None:
            log.warning("FHIR fallback refused for hook %s: %s", call.hook_instance[:64], refusal)
        return FhirFetcher(self, call.fhir_server, call.access_token, refusal, call.token_expires_at)

    async def aclose(self) -> None:
        if self._collection is not None:
            self._collection.cancel()
            self._collection = None
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()
