"""FHIR-server fallback (placeholder until the fallback lands): no fetching, so missing prefetch gives 412."""

from __future__ import annotations

from cds_service.fhir.gather import Fetcher
from cds_service.hooks.request import HookCall
from cds_service.settings import Settings


class FhirFetcherFactory:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, call: HookCall) -> Fetcher | None:
        return None

    async def aclose(self) -> None:
        return None
