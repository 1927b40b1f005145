"""Client profiles: what each EHR's CDS client accepts in a response (`generic`, `sandbox`, `epic`, `oracle`).

The names are a public contract (issuer key `"profile"`, setting `CDS_CLIENT_PROFILE`). One module per client
holds its profile as data and cites the public document it follows. `apply_profile(name, response)` reshapes
a response (the preview page shows each profile's); `profile_cards(name, rendered)` reshapes rendered cards
and says which suggestions the client receives (the hook endpoint answers and writes the ledger from it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cds_service.cards.render import RenderedCard
from cds_service.profiles import epic, generic, oracle, sandbox
from cds_service.profiles.base import ClientProfile, alphanumeric_code, apply, apply_rendered

DEFAULT_PROFILE = "generic"
PROFILES: dict[str, ClientProfile] = {p.name: p for p in (generic.PROFILE, sandbox.PROFILE, epic.PROFILE,
                                                          oracle.PROFILE)}


def profile_names() -> list[str]:
    return list(PROFILES)


def get_profile(name: str | None) -> ClientProfile:
    """The profile called `name` (None: the default); ValueError naming the known ones otherwise."""
    profile = PROFILES.get(name or DEFAULT_PROFILE)
    if profile is None:
        raise ValueError(f"unknown client profile {name!r}; known: {', '.join(PROFILES)}")
    return profile


def apply_profile(profile_name: str | None, cds_response: dict[str, Any]) -> dict[str, Any]:
    """A generic CDS Hooks response reshaped for the named client profile (a new dict)."""
    return apply(get_profile(profile_name), cds_response)


def profile_cards(profile_name: str | None, rendered: Sequence[RenderedCard]) -> list[RenderedCard]:
    """Rendered cards reshaped for the named client profile, with the suggestions its client receives."""
    return apply_rendered(get_profile(profile_name), rendered)


__all__ = ["DEFAULT_PROFILE", "PROFILES", "ClientProfile", "alphanumeric_code", "apply_profile", "get_profile",
           "profile_cards", "profile_names"]
