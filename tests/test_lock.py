"""The lock files match pyproject.toml: change a dependency, run `make lock`, commit uv.lock and the two exports.

uv.lock records the project's own requirements (`[package.metadata] requires-dist`); when they differ from
pyproject.toml, the lock was not regenerated. The exported requirement files (what `make run`, `make test`,
CI and the Dockerfile install with `pip --require-hashes`) must pin exactly uv.lock's versions, with hashes.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
FIX = "run `make lock` and commit uv.lock, requirements.lock and requirements-test.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)")



def _key(name: str, extras: object, specifier: str, extra: str | None) -> tuple:
    return canonicalize_name(name), tuple(sorted(extras or ())), str(SpecifierSet(specifier)), extra


def pyproject_requirements() -> set[tuple]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_key(r.name, r.extras, str(r.specifier), None) for r in map(Requirement, project["dependencies"])}
    for extra, reqs in project.get("optional-dependencies", {}).items():
        wanted |= {_key(r.name, r.extras, str(r.specifier), extra) for r in map(Requirement, reqs)}
    return wanted


def uv_lock() -> dict:
    return tomllib.loads((ROOT / "uv.lock").read_text())


def locked_requirements(lock: dict) -> set[tuple]:
    project = next(p for p in lock["package"] if p["name"] == "cds-naltrexone")
    found = set()
    for r in project["metadata"]["requires-dist"]:
        marker = r.get("marker", "")
        extra = re.fullmatch(r"extra == '([^']+)'", marker)
        found.add(_key(r["name"], r.get("extras"), r.get("specifier", ""), extra.group(1) if extra else None))
    return found


def pins(path: Path) -> dict[str, str]:
    text = path.read_text()
    found = {canonicalize_name(m.group(1)): m.group(2) for line in text.splitlines() if (m := PIN.match(line))}
    blocks = [b for b in re.split(r"\n(?=[A-Za-z0-9])", text) if PIN.match(b)]
    unhashed = [b.split()[0] for b in blocks if "--hash=sha256:" not in b]
    assert not unhashed, f"{path.name}: pins without hashes {unhashed}: {FIX}"
    return found


def test_uv_lock_matches_pyproject() -> None:
    wanted, locked = pyproject_requirements(), locked_requirements(uv_lock())
    missing = sorted(f"{n}{list(e) or ''} {s} ({x or 'runtime'})" for n, e, s, x in wanted - locked)
    stale = sorted(f"{n}{list(e) or ''} {s} ({x or 'runtime'})" for n, e, s, x in locked - wanted)
    assert not missing and not stale, (
        f"uv.lock is out of date with pyproject.toml (new or changed: {missing}; removed or changed: {stale}): {FIX}")


def test_exports_pin_the_locked_versions() -> None:
    versions = {canonicalize_name(p["name"]): p["version"] for p in uv_lock()["package"] if "version" in p}
    runtime, test = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-test.lock")
    for name, path_pins in (("requirements.lock", runtime), ("requirements-test.lock", test)):
        wrong = {n: v for n, v in path_pins.items() if versions.get(n) != v}
        assert not wrong, f"{name} pins versions that uv.lock does not hold: {wrong}: {FIX}"
    assert set(runtime) <= set(test), f"requirements-test.lock lacks {set(runtime) - set(test)}: {FIX}"
    for name, _extras, specifier, extra in pyproject_requirements():
        chosen = (test if extra else runtime).get(name)
        assert chosen is not None, f"{name} is not in the {'test' if extra else 'runtime'} lock: {FIX}"
        assert SpecifierSet(specifier).contains(chosen, prereleases=True), f"{name}=={chosen} outside {specifier}"
    assert "pytest" not in runtime and "playwright" not in runtime, "test tools leaked into the runtime lock"
