"""A scriptable fake FHIR server on httpx.MockTransport: routes by URL, records every request it saw."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from cds_service.fhir.read import bundle_resources, resource_key
from cds_service.hooks.prefetch import fill_tokens
from cds_service.rules.registry import default_packs

BASE = "https://ehr.example.org/fhir"
TOKEN = "s3cr3t-token-value-XYZ"  # a test token, asserted never to leak

Handler = Callable[[httpx.Request], Awaitable[httpx.Response] | httpx.Response]


def fhir_json(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"content-type": "application/fhir+json"})


def searchset(*resources: dict, next_url: str | None = None, extra_entries: list[dict] | None = None) -> dict:
    bundle: dict = {"resourceType": "Bundle", "type": "searchset",
                    "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources] + (extra_entries or [])}
    if next_url:
        bundle["link"] = [{"relation": "self", "url": "x"}, {"relation": "next", "url": next_url}]
    return bundle


def outcome(diagnostics: str) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing",
                                                           "diagnostics": diagnostics}]}


def delayed(seconds: float, response: httpx.Response) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(seconds)
        return response

    return handler


def _without_count(url: httpx.URL) -> str:
    """The URL without the `_count` the fetcher adds to searches (routes are written without it)."""
    return re.sub(r"&_count=\d+", "", str(url))


class FakeFhir:
    """Routes: exact absolute URL (as httpx normalises it) -> response or handler; default 404."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler | httpx.Response] = {}
        self.requests: list[httpx.Request] = []
        self.max_in_flight = 0
        self._in_flight = 0

    def route(self, url: str, answer: Handler | httpx.Response | dict) -> None:
        if isinstance(answer, dict):
            answer = fhir_json(answer)
        self.routes[str(httpx.URL(url))] = answer

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            answer = self.routes.get(str(request.url)) or self.routes.get(_without_count(request.url))
            if answer is None:
                return fhir_json(outcome(f"no route for {request.url}"), 404)
            if isinstance(answer, httpx.Response):
                return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)
            result = answer(request)
            if asyncio.iscoroutine(result):
                result = await result
            return result  # type: ignore[return-value]
        finally:
            self._in_flight -= 1

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def hosts(self) -> set[str]:
        return {r.url.host for r in self.requests}


def serve_prefetch(fake: FakeFhir, request: dict, base: str = BASE) -> dict[str, str]:
    """Serve a fixture request's prefetch as the FHIR server would answer the templates; key -> URL."""
    pack = default_packs()[0]
    urls: dict[str, str] = {}
    for template in pack.prefetch:
        url = f"{base}/{fill_tokens(template.query, request['context'])}"
        urls[template.key] = url
        value = request.get("prefetch", {}).get(template.key)
        if value is None:
            if "?" in template.query:
                fake.route(url, searchset())
            else:
                fake.route(url, fhir_json(outcome("not found"), 404))
            continue
        fake.route(url, value)
        for resource in bundle_resources(value) if value.get("resourceType") == "Bundle" else []:
            key = resource_key(resource)
            if key and key.startswith("Medication/"):
                fake.route(f"{base}/{key}", resource)
    return urls
