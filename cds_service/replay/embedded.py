"""The embedded engine: one machine, bounded memory, no service to run.

Three passes, each streaming:

1. **Orders.** Read the Medication and MedicationRequest files: keep the Medications (a formulary, not
   per patient) and the ids of the patients with an order a pack checks in the window.
2. **Partition.** Read every file of a type the packs need; a line of one of those patients (and, for
   Observations, of a code a template asks for) is appended, as it is, to one of N bucket files on disk
   chosen by a hash of the patient id. Everything else is dropped after parsing.
3. **Evaluate.** Read one bucket at a time, group its lines by patient, apply `replay_patient_lines`; the
   bucket's cards are sorted and spilled to disk, then all buckets are merged into one sorted cards.ndjson.

Memory holds one bucket (N grows with the export: each bucket is at most ~1/N of it), the Medications, the
set of patient ids with orders, and the summary's counters: not the export. Why not DuckDB: FHIR resources
are nested and heterogeneous (choice types, extensions), so DuckDB's NDJSON reader would infer a schema per
file or hand back JSON text anyway; the hash partition needs only orjson and the standard library, and gives
the Spark engine's exact grouping semantics.
"""

from __future__ import annotations

import heapq
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from cds_service.replay.evaluate import ReplayJob, checks_order, replay_patient_lines, runtime
from cds_service.replay.export import ExportFile, LineError, parse_line, read_lines
from cds_service.replay.needs import patient_of
from cds_service.replay.progress import Progress
from cds_service.replay.summary import ReplaySummary

BUCKET_BYTES = 32 << 20  # aim: at most this much of the export per bucket


def bucket_of(patient_id: str, buckets: int) -> int:
    return zlib.crc32(patient_id.encode()) % buckets


def keep_first(medications: dict[str, bytes], resource: dict, line: bytes) -> None:
    """Medications by id; of two exported with one id, the smaller line (the same choice on every engine)."""
    rid = resource.get("id")
    if isinstance(rid, str):
        line = line.strip()
        if rid not in medications or line < medications[rid]:
            medications[rid] = line


def run_embedded(files: list[ExportFile], job: ReplayJob, summary: ReplaySummary, cards_out: BinaryIO,
                 work_dir: Path, progress: Callable[[str, float], Progress]) -> None:
    needs = runtime(job.site_conceptmap).needs
    first = [f for f in files if f.resource_type in ("Medication", "MedicationRequest")]
    second = [f for f in files if f.resource_type in needs.resource_types and f.resource_type != "Medication"]

    # 1. orders
    bar = progress("orders", sum(f.size for f in first))
    lines: dict[str, bytes] = {}
    for f in (f for f in first if f.resource_type == "Medication"):
        for n, line in read_lines(f, bar.advance):
            resource = parse_line(f, n, line)
            if isinstance(resource, LineError):
                summary.add_error(resource)
            else:
                keep_first(lines, resource, line)
    medications = {rid: orjson.loads(line) for rid, line in lines.items()}
    with_orders: set[str] = set()
    for f in (f for f in first if f.resource_type == "MedicationRequest"):
        for n, line in read_lines(f, bar.advance):
            resource = parse_line(f, n, line)
            if isinstance(resource, LineError):
                summary.add_error(resource)
                continue
            patient = patient_of(resource)
            if patient and patient not in with_orders and checks_order(resource, medications, job):
                with_orders.add(patient)
    bar.close()
    summary.patients_with_orders = len(with_orders)

    # 2. partition
    total = sum(f.size for f in second)
    buckets = max(8, min(512, total // BUCKET_BYTES + 1))  # open files stay under ulimit -n
    bar = progress("partition", total)
    paths = [work_dir / f"bucket-{i:04d}.ndjson" for i in range(buckets)]
    handles: dict[int, BinaryIO] = {}
    try:
        for f in second:
            counted = f.resource_type != "MedicationRequest"  # its malformed lines were counted in pass 1
            for n, line in read_lines(f, bar.advance):
                summary.lines_read += 1
                resource = parse_line(f, n, line)
                if isinstance(resource, LineError):
                    if counted:
                        summary.add_error(resource)
                    continue
                if f.resource_type == "Patient":
                    summary.patients_in_export += 1
                patient = patient_of(resource)
                if patient is None or patient not in with_orders or not needs.keeps(resource):
                    continue
                b = bucket_of(patient, buckets)
                handle = handles.get(b)
                if handle is None:
                    handle = handles[b] = paths[b].open("ab")
                handle.write(patient.encode() + b"\t" + line.strip() + b"\n")
    finally:
        for handle in handles.values():
            handle.close()
    bar.close()

    # 3. evaluate, bucket by bucket; sorted runs of cards merged at the end
    bar = progress("evaluate", len(with_orders))
    bar.unit, bar.scale = "patients", 1
    runs: list[Path] = []
    for b, path in enumerate(paths):
        if not path.exists():
            continue
        groups: dict[str, list[bytes]] = {}
        with path.open("rb") as handle:
            for line in handle:
                patient, _, resource = line.partition(b"\t")
                groups.setdefault(patient.decode(), []).append(resource)
        path.unlink()
        cards: list[tuple[str, bytes]] = []
        for patient, group in groups.items():
            for order in replay_patient_lines(patient, group, medications, job):
                summary.add_order(order)
                cards.extend((c.sort_key(), c.line()) for c in order.cards)
            bar.advance(1)
        cards.sort()
        run = work_dir / f"cards-{b:04d}.run"
        with run.open("wb") as handle:
            for key, card in cards:
                handle.write(orjson.dumps([key, card.decode()]) + b"\n")
        runs.append(run)
    bar.close()
    merge_runs(runs, cards_out)


def _read_run(path: Path) -> Iterator[tuple[str, str]]:
    with path.open("rb") as handle:
        for line in handle:
            key, card = orjson.loads(line)
            yield key, card


def merge_runs(runs: list[Path], out: BinaryIO) -> None:
    """The sorted runs merged into one sorted cards.ndjson (bounded memory: one line per run)."""
    for _key, card in heapq.merge(*(_read_run(r) for r in runs)):
        out.write(card.encode() + b"\n")
    for run in runs:
        run.unlink()


def work_directory(out: Path) -> tempfile.TemporaryDirectory[str]:
    """Scratch space for buckets and runs, next to the output (same disk, cleaned up at the end)."""
    out.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".replay-", dir=os.fspath(out))
