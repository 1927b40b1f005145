"""A synthetic FHIR Bulk Data export for replay tests and benchmarks, deterministic by seed:

    python -m benchmarks.bulk --patients 10000 [--out DIR] [--seed 7] [--observations 40] [--gzip]

It writes one NDJSON file per resource type and a Bulk Data manifest, like a `$export` would. Patients are
built from the fixture scenarios' own resources (`fhir_fixtures/*/order-sign.json`: real codes, real
shapes), moved in time and renamed per patient:

- most patients have background conditions and medications (orders no pack checks) and many unrelated
  Observations (vitals, chemistry: the big file, as in a real export);
- a few percent have opioid orders (which the reverse rule checks) and a few percent naltrexone orders,
  with the liver tests, urine screens and histories around them that the fixtures hold;
- every fixture scenario is mixed in as it is (its patient, its record, its draft order now signed), so a
  replay of the export must give each scenario's order the cards the hook gives it.

No wall clock and no global random state: the same seed writes the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fhir_fixtures"
ANCHOR = date(2026, 11, 25)  # the fixtures' "today"
SPAN_DAYS = 730  # orders spread over the two years before the anchor
TYPES = ("Patient", "Condition", "Medication", "MedicationRequest", "MedicationStatement", "MedicationDispense",
         "MedicationAdministration", "Observation", "AllergyIntolerance")
# unrelated results that fill the Observation file (LOINC code, display, unit, typical value, spread)
FILLER = (
    ("8867-4", "Heart rate", "/min", 75, 12), ("8480-6", "Systolic blood pressure", "mm[Hg]", 125, 15),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 80, 10), ("29463-7", "Body weight", "kg", 80, 15),
    ("8310-5", "Body temperature", "Cel", 36.8, 0.4), ("2345-7", "Glucose [Mass/volume] in Serum or Plasma",
                                                      "mg/dL", 100, 20),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 14, 1.5), ("2951-2", "Sodium [Moles/volume] in Serum",
                                                                     "mmol/L", 140, 3),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.9, 0.2),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 5.8, 0.7),
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?$")
DATE_KEYS = frozenset({"authoredOn", "effectiveDateTime", "issued", "onsetDateTime", "recordedDate", "start", "end",
                       "dateAsserted", "whenHandedOver", "whenPrepared", "abatementDateTime", "lastUpdated",
                       "lastOccurrence", "effectiveInstant"})


@dataclass(frozen=True)
class Scenario:
    name: str
    patient_id: str
    resources: tuple[dict, ...]  # the prefetch's resources and the draft orders, signed (status active)
    orders: tuple[str, ...]  # "MedicationRequest/<id>" of the scenario's (former) draft orders


def _resources_of(value: Any) -> list[dict]:
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        return [e["resource"] for e in value.get("entry", []) if isinstance(e, dict) and "resource" in e]
    return [value]


def scenarios() -> list[Scenario]:
    """Every fixture scenario as export resources: what its order-sign prefetch held, and its drafts as
    signed orders (what a hospital's export holds after the order was signed)."""
    out = []
    for path in sorted(FIXTURES.glob("*/order-sign.json")):
        request = json.loads(path.read_text())
        resources: list[dict] = []
        for value in (request.get("prefetch") or {}).values():
            resources += _resources_of(value)
        orders = []
        for draft in _resources_of(request["context"]["draftOrders"]):
            draft = dict(draft)
            if draft.get("resourceType") == "MedicationRequest":
                draft["status"] = "active"
                orders.append(f"MedicationRequest/{draft['id']}")
            resources.append(draft)
        out.append(Scenario(path.parent.name, request["context"]["patientId"], tuple(resources), tuple(orders)))
    return out


def _shift(value: Any, days: int) -> Any:
    """Every FHIR date/dateTime in `value` moved by `days` (keeps a record's inner timeline)."""
    if isinstance(value, dict):
        return {k: (_shift_date(v, days) if k in DATE_KEYS and isinstance(v, str) else _shift(v, days))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, days) for v in value]
    return value


def _shift_date(text: str, days: int) -> str:
    if not _DATE.match(text):
        return text
    if len(text) == 10:
        return (date.fromisoformat(text) + timedelta(days=days)).isoformat()
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(days=days)
    out = moment.isoformat()
    return out.replace("+00:00", "Z") if text.endswith("Z") else out


@dataclass
class Pools:
    """Resource templates drawn from the fixtures, by role."""

    conditions: list[dict] = field(default_factory=list)
    background_orders: list[dict] = field(default_factory=list)  # orders no pack checks
    opioid_orders: list[dict] = field(default_factory=list)  # checked (reverse rule)
    checked: list[Scenario] = field(default_factory=list)  # scenarios whose orders a pack checks (mostly naltrexone)
    statements: list[dict] = field(default_factory=list)
    dispenses: list[dict] = field(default_factory=list)
    labs: list[dict] = field(default_factory=list)  # liver tests and urine screens
    allergies: list[dict] = field(default_factory=list)
    medications: dict[str, dict] = field(default_factory=dict)


def pools(all_scenarios: list[Scenario]) -> Pools:
    from cds_service.replay.evaluate import ReplayJob, checks_order

    job = ReplayJob(None, None, "generator")
    out = Pools()
    for s in all_scenarios:
        meds = {r["id"]: r for r in s.resources if r.get("resourceType") == "Medication"}
        out.medications.update(meds)
        for r in s.resources:
            rtype = r.get("resourceType")
            ref = f"{rtype}/{r.get('id')}"
            if rtype == "Condition":
                out.conditions.append(r)
            elif rtype == "MedicationRequest" and ref not in s.orders:
                (out.opioid_orders if checks_order(r, meds, job) else out.background_orders).append(r)
            elif rtype == "MedicationStatement":
                out.statements.append(r)
            elif rtype == "MedicationDispense":
                out.dispenses.append(r)
            elif rtype == "Observation":
                out.labs.append(r)
            elif rtype == "AllergyIntolerance":
                out.allergies.append(r)
        drafts = [r for r in s.resources if f"{r.get('resourceType')}/{r.get('id')}" in s.orders]
        if drafts and all(checks_order(d, meds, job) for d in drafts):
            out.checked.append(s)
    return out


class Writer:
    """One NDJSON file per type (gzip optional), and the manifest."""

    def __init__(self, out: Path, gz: bool) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.gz = out, gz
        self.handles: dict[str, BinaryIO] = {}
        self.counts: dict[str, int] = dict.fromkeys(TYPES, 0)

    def name(self, rtype: str) -> str:
        return f"{rtype}.ndjson" + (".gz" if self.gz else "")

    def write(self, resource: dict) -> None:
        rtype = resource["resourceType"]
        handle = self.handles.get(rtype)
        if handle is None:
            path = self.out / self.name(rtype)
            # kept open across writes, closed in close()
            handle = self.handles[rtype] = (gzip.open(path, "wb", compresslevel=1) if self.gz  # type: ignore[assignment]  # noqa: SIM115
                                            else path.open("wb"))
        handle.write(orjson.dumps(resource) + b"\n")
        self.counts[rtype] = self.counts.get(rtype, 0) + 1

    def close(self) -> dict:
        for handle in self.handles.values():
            handle.close()
        manifest = {"transactionTime": f"{ANCHOR.isoformat()}T23:59:59Z", "request": "[base]/$export",
                    "requiresAccessToken": True,
                    "output": [{"type": t, "url": f"file:///export/{self.name(t)}", "count": self.counts[t]}
                               for t in TYPES if self.counts.get(t)],
                    "error": []}
        (self.out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        return manifest


def _renamed(template: dict, rid: str, patient: str, days: int) -> dict:
    r = _shift(template, days)
    r["id"] = rid
    key = "patient" if r["resourceType"] == "AllergyIntolerance" else "subject"
    r[key] = {"reference": f"Patient/{patient}"}
    return r


def _filler(rng: random.Random, rid: str, patient: str, day: date) -> dict:
    code, display, unit, mean, spread = FILLER[rng.randrange(len(FILLER))]
    value = round(rng.gauss(mean, spread), 1)
    stamp = f"{day.isoformat()}T{rng.randrange(7, 18):02d}:{rng.randrange(60):02d}:00Z"
    return {"resourceType": "Observation", "id": rid, "meta": {"lastUpdated": stamp}, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs" if unit in ("/min", "mm[Hg]", "kg", "Cel")
                                      else "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
            "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": stamp, "issued": stamp,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def synthetic_patient(rng: random.Random, i: int, pool: Pools, observations: int,
                      naltrexone_share: float, opioid_share: float) -> Iterator[dict]:
    pid = f"gen{i:07d}"
    order_day = ANCHOR - timedelta(days=rng.randrange(SPAN_DAYS))
    shift = (order_day - ANCHOR).days  # fixture resources are dated relative to the anchor
    birth = date(rng.randrange(1940, 2007), rng.randrange(1, 13), rng.randrange(1, 29))
    yield {"resourceType": "Patient", "id": pid, "meta": {"lastUpdated": "2024-01-01T00:00:00Z"},
           "gender": rng.choice(("male", "female")), "birthDate": birth.isoformat()}
    for k in range(rng.choice((0, 1, 1, 2, 3, 4))):
        yield _renamed(rng.choice(pool.conditions), f"{pid}-c{k}", pid, shift - rng.randrange(0, 900))
    for k in range(rng.choice((0, 1, 2, 3, 5))):
        yield _renamed(rng.choice(pool.background_orders), f"{pid}-m{k}", pid, shift - rng.randrange(-60, 700))
    roll = rng.random()
    if roll < naltrexone_share and pool.checked:
        # a checked order (mostly naltrexone) with a fixture scenario's record around it, moved to this
        # patient's order day
        scenario = rng.choice(pool.checked)
        for n, r in enumerate(scenario.resources):
            if r.get("resourceType") in ("Patient", "Medication"):
                continue
            yield _renamed(r, f"{pid}-n{n}", pid, shift)
            if r.get("resourceType") == "MedicationRequest" and f"MedicationRequest/{r['id']}" in scenario.orders \
                    and rng.random() < 0.3:  # an injection given after the order
                yield {"resourceType": "MedicationAdministration", "id": f"{pid}-a{n}", "status": "completed",
                       "medicationCodeableConcept": r.get("medicationCodeableConcept", {"text": "naltrexone"}),
                       "subject": {"reference": f"Patient/{pid}"},
                       "effectiveDateTime": (order_day + timedelta(days=1)).isoformat()}
    elif roll < naltrexone_share + opioid_share:
        yield _renamed(rng.choice(pool.opioid_orders), f"{pid}-o0", pid, shift)
        if pool.statements and rng.random() < 0.5:
            yield _renamed(rng.choice(pool.statements), f"{pid}-s0", pid, shift - rng.randrange(0, 200))
        if pool.dispenses and rng.random() < 0.3:
            yield _renamed(rng.choice(pool.dispenses), f"{pid}-d0", pid, shift - rng.randrange(0, 200))
    if pool.allergies and rng.random() < 0.05:
        yield _renamed(rng.choice(pool.allergies), f"{pid}-al0", pid, shift - rng.randrange(0, 900))
    for k in range(rng.randrange(observations // 2, observations * 3 // 2 + 1)):
        day = order_day + timedelta(days=rng.randrange(-500, 120))  # some results after the order
        yield _filler(rng, f"{pid}-f{k}", pid, min(day, ANCHOR))
    if rng.random() < 0.3:
        for k in range(rng.randrange(1, 4)):
            yield _renamed(rng.choice(pool.labs), f"{pid}-l{k}", pid, shift - rng.randrange(-30, 300))


def generate(out: Path, patients: int, *, seed: int = 7, observations: int = 40, naltrexone_share: float = 0.03,
             opioid_share: float = 0.05, gz: bool = False, with_scenarios: bool = True) -> dict:
    """Write the export; returns its manifest."""
    rng = random.Random(seed)
    all_scenarios = scenarios()
    pool = pools(all_scenarios)
    writer = Writer(out, gz)
    for medication in sorted(pool.medications.values(), key=lambda m: m["id"]):
        writer.write(medication)
    mixed = {}
    if with_scenarios:  # spread through the export, not all at the start
        slots = sorted(rng.sample(range(max(patients, 1)), min(len(all_scenarios), max(patients, 1))))
        mixed = dict(zip(slots, all_scenarios, strict=False))
    for i in range(patients):
        scenario = mixed.get(i)
        if scenario is not None:
            for r in scenario.resources:
                if r.get("resourceType") != "Medication":
                    writer.write(r)
        for resource in synthetic_patient(rng, i, pool, observations, naltrexone_share, opioid_share):
            writer.write(resource)
    return writer.close()


def write_scenarios(out: Path, *, gz: bool = False) -> list[Scenario]:
    """An export of the fixture scenarios alone (their Medications once); returns them."""
    all_scenarios = scenarios()
    writer = Writer(out, gz)
    medications: dict[str, dict] = {}
    for scenario in all_scenarios:
        for r in scenario.resources:
            if r.get("resourceType") == "Medication":
                medications.setdefault(r["id"], r)
            else:
                writer.write(r)
    for medication in sorted(medications.values(), key=lambda m: m["id"]):
        writer.write(medication)
    writer.close()
    return all_scenarios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--out", type=Path, default=Path("bulk-export"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--observations", type=int, default=40, help="unrelated Observations per patient (mean)")
    parser.add_argument("--gzip", action="store_true", help="write .ndjson.gz files")
    args = parser.parse_args()
    manifest = generate(args.out, args.patients, seed=args.seed, observations=args.observations, gz=args.gzip)
    total = sum(o["count"] for o in manifest["output"])
    print(f"wrote {total} resources of {args.patients} patients (+ fixture scenarios) to {args.out}")


if __name__ == "__main__":
    main()
