"""The Apache Spark engine (`pip install .[spark]`): the same passes as the embedded engine, as RDD jobs.

1. Medications (deduplicated as the embedded engine does) and the patients with a checked order are
   collected to the driver and broadcast: both are small next to the export.
2. Every file of a needed type is read with `textFile` (gzip too), numbered with `zipWithIndex` (the line
   numbers of malformed lines), parsed and filtered by the same functions as the embedded engine, keyed
   by patient and grouped (`groupByKey`).
3. `replay_patient_lines` runs on the executors, once per patient group; the cards are sorted by the same
   key as the embedded engine's and streamed to the driver's cards.ndjson, the order summaries folded into
   the summary. So both engines write byte-identical cards.ndjson.

`master`: `local[2]` in the tests; `spark://...`, `yarn`, `k8s://...` on a cluster (or `spark-submit`, which
sets it). Unset: `CDS_SPARK_MASTER`, else the session's default.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from cds_service.replay.evaluate import OrderReplay, ReplayJob, checks_order, replay_patient_lines, runtime
from cds_service.replay.export import ExportFile, LineError, parse_line
from cds_service.replay.needs import patient_of
from cds_service.replay.summary import ReplaySummary

_SESSION: Any = None


def session(master: str | None = None, show_progress: bool | None = None) -> Any:
    """One SparkSession per process (starting one costs seconds); quiet, no UI."""
    global _SESSION
    if _SESSION is not None:
        return _SESSION
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise RuntimeError("the spark engine needs pyspark: pip install '.[spark]' (and Java 17+)") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("cds-naltrexone replay")
    master = master or os.environ.get("CDS_SPARK_MASTER")
    if master:
        builder = builder.master(master)
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    builder = (builder.config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "true" if show_progress else "false")
               .config("spark.sql.shuffle.partitions", "8")
               .config("spark.python.worker.reuse", "true"))
    _SESSION = builder.getOrCreate()
    _SESSION.sparkContext.setLogLevel("ERROR")
    return _SESSION


def _numbered(sc: Any, files: list[ExportFile]) -> Any:
    """(file index, line number, line) of every line of these files, as one RDD (gzip read by Spark)."""
    rdds = [sc.textFile(str(f.path)).zipWithIndex().map(lambda li, i=i: (i, li[1] + 1, li[0]))
            for i, f in enumerate(files)]
    return sc.union(rdds) if len(rdds) > 1 else rdds[0]


def _classify(rows: Iterator[tuple[int, int, str]], files: list[ExportFile], patients: Any,
              count_errors: frozenset[int], job: ReplayJob) -> Iterator[tuple[str, Any]]:
    """Pass 2 on one partition: ("keep", (patient, line)) for what the packs read of a patient with orders,
    ("error", LineError), and one ("stats", (lines, patients)) per partition."""
    needs = runtime(job.site_conceptmap).needs
    wanted = patients.value
    lines = patient_lines = 0
    for i, n, text in rows:
        if not text.strip():
            continue
        f = files[i]
        lines += 1
        raw = text.encode()
        resource = parse_line(f, n, raw)
        if isinstance(resource, LineError):
            if i in count_errors:
                yield "error", resource
            continue
        if f.resource_type == "Patient":
            patient_lines += 1
        patient = patient_of(resource)
        if patient is not None and patient in wanted and needs.keeps(resource):
            yield "keep", (patient, raw.strip())
    yield "stats", (lines, patient_lines)


def _first_pass(rows: Iterator[tuple[int, int, str]], files: list[ExportFile], meds: Any,
                job: ReplayJob) -> Iterator[tuple[str, Any]]:
    """Pass 1 on one partition: ("medication", (id, line)), ("patient", id) with a checked order, ("error", e)."""
    medications = meds.value if meds is not None else {}
    for i, n, text in rows:
        if not text.strip():
            continue
        f = files[i]
        raw = text.encode()
        resource = parse_line(f, n, raw)
        if isinstance(resource, LineError):
            yield "error", resource
        elif f.resource_type == "Medication":
            if isinstance(resource.get("id"), str):
                yield "medication", (resource["id"], raw.strip())
        else:
            patient = patient_of(resource)
            if patient and checks_order(resource, medications, job):
                yield "patient", patient


def run_spark(files: list[ExportFile], job: ReplayJob, summary: ReplaySummary, cards_out: BinaryIO, *,
              master: str | None = None, show_progress: bool | None = None) -> None:
    spark = session(master, show_progress)
    sc = spark.sparkContext
    needs = runtime(job.site_conceptmap).needs
    # errors are reported in the embedded engine's order: Medication files, MedicationRequest files, the rest
    phase = {"Medication": 0, "MedicationRequest": 1}
    order = {str(f.path): (phase.get(f.resource_type, 2), n) for n, f in enumerate(files)}
    errors: list[LineError] = []

    # 1. Medications, then the patients with a checked order
    medication_files = [f for f in files if f.resource_type == "Medication"]
    lines: dict[str, bytes] = {}
    if medication_files:
        found = _numbered(sc, medication_files).mapPartitions(
            lambda rows, fs=medication_files: _first_pass(rows, fs, None, job)).collect()
        for kind, value in found:
            if kind == "error":
                errors.append(value)
            elif kind == "medication":  # of two with one id, the smaller line: the embedded engine's choice
                rid, line = value
                if rid not in lines or line < lines[rid]:
                    lines[rid] = line
    meds = sc.broadcast({rid: orjson.loads(line) for rid, line in lines.items()})
    request_files = [f for f in files if f.resource_type == "MedicationRequest"]
    with_orders: set[str] = set()
    if request_files:
        found = (_numbered(sc, request_files)
                 .mapPartitions(lambda rows, fs=request_files, m=meds: _first_pass(rows, fs, m, job))
                 .distinct().collect())
        for kind, value in found:
            if kind == "error":
                errors.append(value)
            else:
                with_orders.add(value)
    summary.patients_with_orders = len(with_orders)
    patients = sc.broadcast(frozenset(with_orders))

    # 2. read, filter, group: one pass over the needed files
    needed = [f for f in files if f.resource_type in needs.resource_types and f.resource_type != "Medication"]
    count_errors = frozenset(i for i, f in enumerate(needed) if f.resource_type != "MedicationRequest")
    classified = None
    if needed:
        classified = _numbered(sc, needed).mapPartitions(
            lambda rows, fs=needed, p=patients, c=count_errors: _classify(rows, fs, p, c, job)).cache()
        for kind, value in classified.filter(lambda kv: kv[0] != "keep").collect():
            if kind == "error":
                errors.append(value)
            else:
                summary.lines_read += value[0]
                summary.patients_in_export += value[1]
    for error in sorted(errors, key=lambda e: (order.get(e.file, (3, 0)), e.line)):
        summary.add_error(error)
    if classified is None or not with_orders:
        return
    partitions = max(2, min(200, len(with_orders) // 500 + 2))
    grouped = classified.filter(lambda kv: kv[0] == "keep").map(lambda kv: kv[1]).groupByKey(partitions)

    # 3. apply the per-patient function on the executors
    def apply(group: tuple[str, Any], m: Any = meds, j: ReplayJob = job) -> list[OrderReplay]:
        patient, group_lines = group
        return replay_patient_lines(patient, list(group_lines), m.value, j)

    replayed = grouped.flatMap(apply).cache()
    # the summary's counters do not depend on the order orders arrive in (its lists are sorted)
    for replayed_order in replayed.toLocalIterator(prefetchPartitions=True):
        summary.add_order(replayed_order)
    for _key, card in (replayed.flatMap(lambda o: [(c.sort_key(), c.line()) for c in o.cards])
                       .sortByKey(numPartitions=partitions).toLocalIterator()):
        cards_out.write(card + b"\n")
    replayed.unpersist()
    classified.unpersist()
