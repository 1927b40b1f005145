"""HL7 non-adherence reason codes (CDS Hooks 3.0 ballot) for override reasons, and the analytics' mapping.

The table lives in `non-adherence-reasons.json` (with its source): the HL7 codes the service offers or maps
to, and which of the service's own override reason codes one HL7 code covers. A reason sent with the HL7
system reports itself; a local reason reports its mapped HL7 code; others report none.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

NON_ADHERENCE_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
LOCAL_SYSTEM = "urn:cds-naltrexone:override-reason"
_TABLE = Path(__file__).resolve().parent / "non-adherence-reasons.json"


@cache
def _table() -> dict:
    data = json.loads(_TABLE.read_text(encoding="utf-8"))
    if data["system"] != NON_ADHERENCE_SYSTEM:
        raise ValueError(f"{_TABLE}: unexpected system {data['system']!r}")
    return data


def display(code: str) -> str | None:
    """The HL7 display of a non-adherence code, or None when the table does not list it."""
    return _table()["codes"].get(code)


def non_adherence(system: str | None, code: str) -> tuple[str, str] | None:
    """(HL7 code, HL7 display) an override reason stands for, or None when none fits."""
    codes = _table()["codes"]
    if system == NON_ADHERENCE_SYSTEM:
        return (code, codes[code]) if code in codes else (code, code)
    if system in (None, LOCAL_SYSTEM):
        mapped = _table()["local"].get(code)
        if isinstance(mapped, str):
            return mapped, codes[mapped]
    return None
