"""The rule packs this service runs. A new drug's pack is one more line here."""

from __future__ import annotations

from pathlib import Path

from cds_service.rules.base import RulePack


def default_packs(site_conceptmap: str | Path | None = None) -> list[RulePack]:
    """The packs, reading the site's ConceptMap (`CDS_SITE_CONCEPTMAP`) when given; a malformed map raises
    `SiteMapError` naming the element."""
    from cds_service.rules.naltrexone.pack import NaltrexonePack
    from cds_service.terminology.site_map import terminology_for

    return [NaltrexonePack(terminology=terminology_for(site_conceptmap))]
