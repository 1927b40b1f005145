"""axe-core in the browser: the axe.min.js that the PyPI package `axe-playwright-python` ships (axe-core is
MPL-2.0, Deque Systems; the file keeps its licence header). Only the script is used, injected with
`page.evaluate` (a DevTools evaluation, which the pages' Content-Security-Policy does not block)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import axe_playwright_python

AXE_JS = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Every axe violation of the page as it is now (WCAG 2.x A/AA and best practices)."""
    page.evaluate(AXE_JS)
    results = page.evaluate(
        "opts => axe.run(document, opts)", {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]})
    return results["violations"]


def serious(violations: list[dict[str, Any]]) -> list[str]:
    """The serious and critical ones, readable in an assertion message."""
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
            for v in violations if v.get("impact") in ("serious", "critical")]
