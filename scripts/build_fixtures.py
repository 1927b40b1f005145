#!/usr/bin/env python3
"""Write every fixture under `fhir_fixtures/` (or `--out DIR`): the order-time scenarios, the patient-view
scenarios and the client-shaped copies. Deterministic: every date counts back from 2026-11-25 (the service
runs with `CDS_TODAY=2026-11-25` in tests), so a regeneration gives the committed files byte for byte
(`tests/scripts/test_build_fixtures.py`).

    fhir_builders/            the FHIR resource builders (shared with the tests and benchmarks)
    scripts/fixtures/*.py     the scenarios (orders, exposure, terminology, patient_view, clients)
    scripts/fixtures/writer   bundles, prefetch, hook requests, expected.json, README

Run:  .venv/bin/python scripts/build_fixtures.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository root holds fhir_builders and scripts
    sys.path.insert(0, str(ROOT))

from scripts.fixtures import clients, exposure, orders, patient_view, terminology, writer  # noqa: E402
from scripts.fixtures.scenario import Scenario  # noqa: E402


def scenarios() -> list[Scenario]:
    """Every order-time scenario, in the index's order."""
    return [fn() for fn in [*orders.SCENARIOS, *exposure.SCENARIOS, *terminology.scenarios()]]


def build(out: Path) -> dict[str, int]:
    """Write all fixtures into `out`; the count of scenarios written by each part."""
    generic = writer.write(out, scenarios())
    pv = patient_view.write(out / "patient-view")
    clients.build(out)  # reads the generic scenarios just written
    return {"order-time": len(generic), "patient-view": len(pv), "clients": len(clients.SCENARIOS)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "fhir_fixtures")
    args = parser.parse_args(argv)
    counts = build(args.out)
    print("wrote " + ", ".join(f"{n} {part} scenarios" for part, n in counts.items()) + f" to {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
