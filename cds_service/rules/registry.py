"""The rule packs this service runs. A new drug's pack is one more line in PACKS.

Each entry is "module:factory" (imported on first use, so importing the registry loads no pack); the factory
takes the site's terminology as its one keyword argument (`terminology=`) and returns an object that satisfies
`rules.base.RulePack`. Nothing else in the service names a pack: discovery, prefetch, the pipeline, the CLI and
the generated docs all read the packs from here.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from cds_service.rules.base import RulePack
from cds_service.terminology import Terminology

PACKS: list[str] = [
    "cds_service.rules.naltrexone.pack:NaltrexonePack",
]


def load(entry: str, terminology: Terminology | None = None) -> RulePack:
    module, _, factory = entry.partition(":")
    made: RulePack = getattr(import_module(module), factory)(terminology=terminology)
    return made


def default_packs(site_conceptmap: str | Path | None = None) -> list[RulePack]:
    """The packs, sharing one terminology with the site's ConceptMap (`CDS_SITE_CONCEPTMAP`) applied when
    given; a malformed map raises `SiteMapError` naming the element."""
    from cds_service.terminology.site_map import terminology_for

    terminology = terminology_for(site_conceptmap)
    return [load(entry, terminology) for entry in PACKS]
