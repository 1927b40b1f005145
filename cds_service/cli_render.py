"""Cards for a terminal: each card a panel, its markdown detail rendered (rich) and wrapped to the width.

Colours only on a terminal; piped output is plain text at the terminal width (`COLUMNS`, else 100), so
the same rendering can be read in a log or an e-mail.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text

STYLE = {"critical": "bold red", "warning": "bold yellow", "info": "bold cyan"}
DEFAULT_WIDTH = 100


def console() -> Console:
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", DEFAULT_WIDTH) or DEFAULT_WIDTH)
    return Console(width=width, soft_wrap=False, highlight=False, emoji=False)


def _card(card: dict) -> Panel:
    indicator = card.get("indicator", "info")
    parts: list = [Text(card.get("summary", ""), style="bold"), Markdown(card.get("detail", ""))]
    suggestions = card.get("suggestions", [])
    if suggestions:
        lines = Text()
        for s in suggestions:
            actions = "; ".join(f"{a['type']} {a.get('resourceId') or a.get('resource', {}).get('resourceType', '')}"
                                for a in s.get("actions", []))
            lines.append("→ suggestion: ", style="bold")
            lines.append(s["label"] + (f" ({actions})" if actions else "") + "\n")
        parts.append(lines)
    if card.get("overrideReasons"):
        parts.append(Text("override reasons: " + "; ".join(r["display"] for r in card["overrideReasons"]),
                          style="dim"))
    source = card.get("source", {})
    parts.append(Text(f"source: {source.get('label', '')}", style="dim"))
    title = Text(f"{indicator.upper()} [{source.get('topic', {}).get('code', '?')}]", style=STYLE.get(indicator))
    return Panel(Group(*parts), title=title, title_align="left", border_style=STYLE.get(indicator, ""))


def render_cards(body: dict, out: Console | None = None) -> None:
    out = out or console()
    cards = body.get("cards", [])
    if not cards:
        out.print("No cards: nothing to warn about for this order.")
        return
    for card in cards:
        out.print(_card(card))
