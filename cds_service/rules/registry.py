"""The rule packs this service runs. A new drug's pack is one more line in PACKS.

Each entry is "module:factory" (imported on first use, so importing the registry loads no pack); the factory
takes no argument and returns an object that satisfies `rules.base.RulePack`. Nothing else in the service names
a pack: discovery, prefetch, the pipeline, the CLI and the generated docs all read the packs from here.
"""

from __future__ import annotations

from importlib import import_module

from cds_service.rules.base import RulePack

PACKS: list[str] = [
    "cds_service.rules.naltrexone.pack:NaltrexonePack",
]


def load(entry: str) -> RulePack:
    module, _, factory = entry.partition(":")
    made: RulePack = getattr(import_module(module), factory)()
    return made


def default_packs() -> list[RulePack]:
    return [load(entry) for entry in PACKS]
