"""Generated documentation: the README's rules and settings tables, from the code that defines them.

The rules table comes from each rule's `@rule(...)` description (`RuleInfo`) and the pack's thresholds; the
settings table from the pydantic fields of `Settings` and of each pack's config. `python -m cds_service docs`
rewrites the README between its markers; `tests/test_docs.py` fails when the README is stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from cds_service.rules.base import Rule, RulePack, rule_info
from cds_service.settings import PACKAGE_DIR, Settings

# The order of the product specification (rule-catalogue.md); rules it does not list follow in pack order.
CATALOGUE_ORDER = (
    "opioid-concurrent", "opioid-washout", "urine-screen-positive", "urine-screen-needed", "liver-disease",
    "liver-enzymes", "liver-tests-missing", "young-patient", "indication-off-label", "indication-missing",
    "low-dose", "overdose-risk", "duplicate-antagonist", "allergy", "data-incomplete", "naltrexone-blocks-opioid",
    "opioid-on-naltrexone", "liver-enzymes-on-naltrexone", "liver-monitoring-due", "xr-naltrexone-due",
    "naltrexone-monitoring-unchecked",
)

MARKERS = ("rules", "settings")


def _cell(value: object) -> str:
    return str(value).replace("\n", " ").replace("|", "\\|").strip() or "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return field.default


def _show_default(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, Path):
        try:
            return f"`{value.relative_to(PACKAGE_DIR.parent).as_posix()}`"
        except ValueError:
            return f"`{value}`"
    if isinstance(value, (list, tuple, dict)):
        return f"`{json.dumps(value)}`"
    if isinstance(value, date):
        return f"`{value.isoformat()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def env_var(config: type[BaseSettings], name: str) -> str:
    return f"{config.model_config.get('env_prefix', '')}{name}".upper()


def pack_rules(pack: RulePack) -> list[tuple[Rule, list[str]]]:
    """Every rule the pack declares, with the labels of the scopes it applies to, in catalogue order."""
    labels = {scope.id: scope.label for scope in pack.scopes}
    found = [(fn, [labels.get(s, s) for s in fn.info.applies_to]) for fn in pack.rules]
    position = {rule_id: i for i, rule_id in enumerate(CATALOGUE_ORDER)}
    ranked = sorted(enumerate(found), key=lambda item: (position.get(item[1][0].info.id, len(position)), item[0]))
    return [entry for _i, entry in ranked]


def rules_markdown(pack: RulePack) -> str:
    """The pack's rules table: id, scope, indicators, trigger, suggestions, source, the data it reads (from its
    `needs` / `requires`), configurable thresholds."""
    config = type(pack.config)
    rows = []
    for fn, directions in pack_rules(pack):
        info = rule_info(fn)
        thresholds = "<br>".join(
            f"`{name}` = {_show_default(_default(config.model_fields[name]))} (`{env_var(config, name)}`)"
            for name in info.thresholds
        )
        reads = ", ".join(f"`{key}`" + (" (silent without it)" if key in info.requires else "")
                          for key in info.needs)
        rows.append((f"`{info.id}`<br>{info.title}", ", ".join(directions), ", ".join(info.indicators),
                     info.trigger, info.suggestions, info.source, reads or "-", thresholds or "-"))
    header = ("rule", "checks", "indicator", "fires when", "suggestions", "source", "reads (prefetch keys)",
              "configurable (default, env var)")
    return _table(header, rows)


def _settings_rows(config: type[BaseSettings]) -> list[tuple[str, str, str]]:
    return [(f"`{env_var(config, name)}`", _show_default(_default(field)), field.description or "")
            for name, field in config.model_fields.items()]


def settings_markdown(packs: Sequence[RulePack] | None = None) -> str:
    """Every `CDS_*` setting: the service's `Settings`, then each pack's thresholds."""
    if packs is None:
        from cds_service.rules.registry import default_packs

        packs = default_packs()
    header = ("environment variable", "default", "description")
    parts = ["**Service** (`cds_service/settings.py`)", "", _table(header, _settings_rows(Settings))]
    for pack in packs:
        config = type(pack.config)
        prefix = config.model_config.get("env_prefix", "")
        parts += ["", f"**Rule pack `{pack.id}`**: clinical thresholds (site policy, `{prefix}*`; "
                  f"`{config.__module__.replace('.', '/')}.py`)", "", _table(header, _settings_rows(config))]
    return "\n".join(parts)


def _section(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}:start -->)(.*?)(<!-- {name}:end -->)", re.DOTALL)


def generated_sections(packs: Sequence[RulePack] | None = None) -> dict[str, str]:
    if packs is None:
        from cds_service.rules.registry import default_packs

        packs = default_packs()
    rules = "\n\n".join(rules_markdown(p) if len(packs) == 1 else f"**Rule pack `{p.id}`**\n\n{rules_markdown(p)}"
                        for p in packs)
    return {"rules": rules, "settings": settings_markdown(packs)}


def render_readme(text: str, packs: Sequence[RulePack] | None = None) -> str:
    """The README text with its generated sections replaced by the current output."""
    sections = generated_sections(packs)
    for name in MARKERS:
        pattern = _section(name)
        if not pattern.search(text):
            raise ValueError(f"README has no <!-- {name}:start --> ... <!-- {name}:end --> markers")
        text = pattern.sub(lambda m, n=name: f"{m.group(1)}\n{sections[n]}\n{m.group(3)}", text, count=1)
    return text


def readme_section(text: str, name: str) -> str | None:
    """What the README currently holds between the `name` markers (None when the markers are missing)."""
    match = _section(name).search(text)
    return match.group(2) if match else None


def update_readme(path: str | Path) -> bool:
    """Rewrite the generated sections of the README at `path`; True when the file changed."""
    path = Path(path)
    old = path.read_text(encoding="utf-8")
    new = render_readme(old)
    if new == old:
        return False
    path.write_text(new, encoding="utf-8")
    return True
