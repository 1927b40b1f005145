"""The rule packs this service runs. A new drug's pack is one more line here."""

from __future__ import annotations

from cds_service.rules.base import RulePack


def default_packs() -> list[RulePack]:
    from cds_service.rules.naltrexone.pack import NaltrexonePack

    return [NaltrexonePack()]
