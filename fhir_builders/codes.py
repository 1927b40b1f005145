"""The code lists the builders write, read from the CSV tables in `codes/` (each row says where it comes from).

    products.csv        RxNorm products and ingredients by a short key ("naltrexone-50" -> 1483744)
    conditions.csv      problem-list codings by key, in the order a Condition carries them (ICD-10-CM, SNOMED CT)
    observations.csv    LOINC codes of the labs and urine drug screens
    routes.csv          SNOMED CT routes of administration
    prefetch_codes.csv  the LOINC codes the liverTests / urineDrugScreens prefetch queries cover

The `source` column names the reference (naltrexone-knowledge.md, a CDC opioid CDS IG value set) or the public
code system where the code was looked up; the tables are data, read once at import.
"""

from __future__ import annotations

import csv
from pathlib import Path

from fhir_builders import systems

_DIR = Path(__file__).resolve().parent / "codes"

Coding = tuple[str, str, str]  # (system, code, display)


def _rows(name: str) -> list[dict[str, str]]:
    with (_DIR / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


RX: dict[str, tuple[str, str]] = {r["key"]: (r["rxcui"], r["display"]) for r in _rows("products.csv")}

COND: dict[str, list[Coding]] = {}
for _r in _rows("conditions.csv"):
    COND.setdefault(_r["key"], []).append((getattr(systems, _r["system"]), _r["code"], _r["display"]))

_OBS = _rows("observations.csv")
LAB: dict[str, tuple[str, str]] = {r["key"]: (r["loinc"], r["display"]) for r in _OBS if r["kind"] == "lab"}
UDS: dict[str, tuple[str, str]] = {r["key"]: (r["loinc"], r["display"]) for r in _OBS if r["kind"] == "urine-screen"}

ROUTE: dict[str, Coding] = {r["key"]: (systems.SNOMED, r["snomed"], r["display"]) for r in _rows("routes.csv")}

_PREFETCH = _rows("prefetch_codes.csv")
LIVER_TEST_CODES = frozenset(r["loinc"] for r in _PREFETCH if r["prefetch_key"] == "liverTests")
UDS_CODES = frozenset(r["loinc"] for r in _PREFETCH if r["prefetch_key"] == "urineDrugScreens")

del _r
