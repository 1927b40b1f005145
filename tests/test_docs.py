"""The README's generated sections (rules and settings tables) must match the code that defines them."""

from __future__ import annotations

from pathlib import Path

from cds_service.docs import pack_rules, readme_section, render_readme, rules_markdown, settings_markdown
from cds_service.rules.base import rule_info
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from cds_service.rules.naltrexone.pack import RULES, NaltrexonePack
from cds_service.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
REGENERATE = "run `python -m cds_service docs` to regenerate"


def test_readme_generated_sections_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    current = render_readme(text)
    for name in ("rules", "settings"):
        assert readme_section(text, name) == readme_section(current, name), \
            f"README.md {name} table is out of date: {REGENERATE}"


def test_every_rule_once_in_catalogue_order() -> None:
    pack = NaltrexonePack()
    listed = [fn for fn, _scopes in pack_rules(pack)]
    assert sorted(listed, key=id) == sorted(RULES, key=id)  # every rule once (overdose-risk: twice, two scopes)
    ids = list(dict.fromkeys(rule_info(fn).id for fn in listed))
    table = rules_markdown(pack)
    for rule_id in ids:
        assert f"| `{rule_id}`<br>" in table
    known = [i for i in ("opioid-concurrent", "liver-disease", "liver-tests-missing", "young-patient",
                         "indication-off-label", "indication-missing", "low-dose", "data-incomplete") if i in ids]
    assert known == [i for i in ids if i in known]
    data_row = next(line for line in table.splitlines() if line.startswith("| `data-incomplete`"))
    assert ("| naltrexone orders, opioid orders, orders whose medication could not be read, patient view "
            "(naltrexone current) |") in data_row
    overdose = [line for line in table.splitlines() if line.startswith("| `overdose-risk`")]
    assert [row.split(" | ")[1] for row in overdose] == ["naltrexone orders", "patient view (naltrexone current)"]


def test_thresholds_with_defaults_and_env_vars() -> None:
    table = rules_markdown(NaltrexonePack(NaltrexoneConfig(minimum_age=18)))
    row = next(line for line in table.splitlines() if line.startswith("| `young-patient`"))
    assert "`minimum_age` = `20` (`CDS_NALTREXONE_MINIMUM_AGE`)" in row  # the default, not this instance's value
    row = next(line for line in table.splitlines() if line.startswith("| `low-dose`"))
    assert "`low_dose_max_mg` = `5` (`CDS_NALTREXONE_LOW_DOSE_MAX_MG`)" in row


def test_settings_table_lists_every_setting() -> None:
    table = settings_markdown()
    for name in Settings.model_fields:
        assert f"| `CDS_{name.upper()}` |" in table
    for name in NaltrexoneConfig.model_fields:
        assert f"| `CDS_NALTREXONE_{name.upper()}` |" in table
    assert "| `CDS_AUTH_MODE` | `jwt` | `jwt` verifies CDS Hooks JWTs; `off` trusts everyone. |" in table
    assert "| `CDS_TRUSTED_ISSUERS` | `cds_service/security/trusted_issuers.json` |" in table
    assert "| `CDS_TODAY` | (unset) |" in table


def test_render_replaces_only_between_markers() -> None:
    text = "intro\n<!-- settings:start -->\nSTALE-TEXT\n<!-- settings:end -->\nmiddle\n<!-- rules:start -->\n" \
           "<!-- rules:end -->\nend\n"
    out = render_readme(text)
    assert out.startswith("intro\n<!-- settings:start -->\n**Service**")
    assert "\n<!-- settings:end -->\nmiddle\n<!-- rules:start -->\n| rule |" in out
    assert out.endswith("<!-- rules:end -->\nend\n")
    assert "STALE-TEXT" not in out
    assert render_readme(out) == out
