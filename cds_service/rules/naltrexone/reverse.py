"""(rules being added)"""

from __future__ import annotations

from cds_service.rules.base import Rule

RULES: tuple[Rule, ...] = ()
