"""Client profiles: what each EHR's CDS client accepts in a response (`generic`, `sandbox`, `epic`, `oracle`).

The names are a public contract (issuer key `"profile"`, setting `CDS_CLIENT_PROFILE`). One module per client
holds its profile as data and cites the public document it follows. `apply_profile(name, response)` is the
one entry point (the app uses it on every response; the preview page reuses it).
"""

from __future__ import annotations

from typing import Any

from cds_service.profiles import epic, generic, oracle, sandbox
from cds_service.profiles.base import ClientProfile, alphanumeric_code, apply

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


__all__ = ["DEFAULT_PROFILE", "PROFILES", "ClientProfile", "alphanumeric_code", "apply_profile", "get_profile",
           "profile_names"]
