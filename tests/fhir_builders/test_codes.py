"""The builders' code tables are data with provenance: every row names its source, keys are unique, and the
codes are the ones the service's own terminology knows where it should know them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cds_service.terminology import get_terminology
from fhir_builders import codes, systems

TABLES = sorted((Path(codes.__file__).parent / "codes").glob("*.csv"))


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.name)
def test_every_row_names_its_source(table: Path) -> None:
    with table.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows, table
    assert [i for i, r in enumerate(rows, 2) if not r["source"].strip() or not all(v.strip() for v in r.values())] == []


def test_keys_are_unique_and_systems_known() -> None:
    with (Path(codes.__file__).parent / "codes" / "products.csv").open(encoding="utf-8", newline="") as f:
        keys = [r["key"] for r in csv.DictReader(f)]
    assert len(keys) == len(set(keys)) == len(codes.RX)
    assert {s for codings in codes.COND.values() for s, _, _ in codings} == {systems.ICD10CM, systems.SNOMED}
    assert set(codes.UDS.values()) and {c for c, _ in codes.UDS.values()} <= codes.UDS_CODES


def test_naltrexone_and_opioid_products_are_in_the_service_terminology() -> None:
    """A fixture's naltrexone or opioid product the service did not know would test nothing."""
    terminology = get_terminology()
    for key in ("naltrexone-50", "vivitrol", "contrave", "oxycodone-5", "bup-nal-film", "methadone-10",
                "hydromorphone-2", "morphine-iv", "fentanyl-iv"):
        assert terminology.product(codes.RX[key][0]) is not None, key
