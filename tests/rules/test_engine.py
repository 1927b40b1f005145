"""The engine's patient-scope check on hand-built records: the therapy's check, the `unchecked` check when the
therapy could not be decided, or nothing."""

from __future__ import annotations

import pytest

from cds_service.fhir.read import OTHER_PATIENT
from cds_service.record.model import PatientRecord
from cds_service.rules.base import OrderCheck
from cds_service.rules.engine import patient_scope, therapy_check, therapy_unread
from cds_service.rules.naltrexone.pack import NaltrexonePack
from cds_service.rules.naltrexone.scopes import ON_NALTREXONE, THERAPY_UNCHECKED
from tests.rules.naltrexone import records as r

PACK = NaltrexonePack()
SCOPE = patient_scope(PACK, "patient-view")


def _check(rec: PatientRecord) -> OrderCheck | None:
    assert SCOPE is not None
    return therapy_check(PACK, SCOPE, rec)


def test_the_therapy_check_when_naltrexone_is_current() -> None:
    rec = r.record(medications=[r.use("MedicationRequest/ntx", r.NALTREXONE_50, current=True)],
                   unavailable={"medicationAdministrations": "timeout"})
    check = _check(rec)
    assert check is not None and check.scope == ON_NALTREXONE and check.order.ref == "MedicationRequest/ntx"


@pytest.mark.parametrize("unavailable", ["medicationRequests", "medicationStatements", "medicationDispenses",
                                         "medicationAdministrations"])
def test_a_failed_therapy_key_and_no_naltrexone_is_the_unchecked_check(unavailable: str) -> None:
    rec = r.record(medications=[r.use("MedicationRequest/oxy", r.OXYCODONE, current=True)],
                   unavailable={unavailable: "timeout"})
    check = _check(rec)
    assert check is not None and check.scope == THERAPY_UNCHECKED
    assert check.order.ref == "Patient/pt-unit" and not check.order.ingredients
    assert [rule.info.id for rule in check.rules] == ["naltrexone-monitoring-unchecked"]
    assert "liverTests" not in check.prefetch_keys and "conditions" not in check.prefetch_keys  # nothing more read


def test_everything_read_and_no_naltrexone_is_no_check() -> None:
    rec = r.record(medications=[r.use("MedicationRequest/oxy", r.OXYCODONE, current=True)])
    assert _check(rec) is None


def test_a_failed_key_the_therapy_does_not_depend_on_is_no_check() -> None:
    assert SCOPE is not None
    rec = r.record(unavailable={"liverTests": "timeout"})
    assert not therapy_unread(PACK, SCOPE, rec) and _check(rec) is None


def test_an_unreadable_medication_record_counts_another_patients_does_not() -> None:
    assert SCOPE is not None
    foreign = r.record()
    foreign.skipped_resources.add("MedicationRequest/x", OTHER_PATIENT)
    assert not therapy_unread(PACK, SCOPE, foreign) and _check(foreign) is None
    unreadable = r.record()
    unreadable.skipped_resources.add("MedicationAdministration/y", "could not be read (TypeError)")
    assert therapy_unread(PACK, SCOPE, unreadable)
    check = _check(unreadable)
    assert check is not None and check.scope == THERAPY_UNCHECKED
    lab = r.record()
    lab.skipped_resources.add("Observation/z", "no readable effective date")  # not what decides the therapy
    assert not therapy_unread(PACK, SCOPE, lab)
