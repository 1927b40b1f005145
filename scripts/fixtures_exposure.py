"""Exposure scenarios (issue 11, part B): administrations, partial dates, one antagonist model, no silent draft."""

from __future__ import annotations

SCENARIOS: list = []
