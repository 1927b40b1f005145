"""Regenerating the fixtures gives the committed `fhir_fixtures/` tree exactly: the same files, byte for byte.

The generator reads no clock (every date counts back from 2026-11-25), so this holds on any day; a failure means
a generator or a shared builder changed what it writes and the fixtures must be regenerated (and reviewed).
"""

from __future__ import annotations

from pathlib import Path

from scripts import build_fixtures

COMMITTED = Path(__file__).resolve().parents[2] / "fhir_fixtures"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    counts = build_fixtures.build(tmp_path / "out")
    built, committed = _tree(tmp_path / "out"), _tree(COMMITTED)
    assert sorted(set(built) - set(committed)) == [], "written but not committed"
    assert sorted(set(committed) - set(built)) == [], "committed but no longer written"
    stale = [name for name in committed if built[name] != committed[name]]
    assert stale == [], f"{len(stale)} fixtures differ from the generator: run scripts/build_fixtures.py"
    assert counts["order-time"] >= 100 and counts["patient-view"] >= 10 and counts["clients"] >= 8


def test_the_check_sees_one_changed_byte(tmp_path: Path) -> None:
    """The comparison is not vacuous: a fixture edited after generation is told apart."""
    build_fixtures.build(tmp_path / "out")
    target = tmp_path / "out" / "silent-aud-adult" / "expected.json"
    target.write_bytes(target.read_bytes().replace(b"45-year-old", b"46-year-old", 1))
    built, committed = _tree(tmp_path / "out"), _tree(COMMITTED)
    assert [n for n in committed if built[n] != committed[n]] == ["silent-aud-adult/expected.json"]
