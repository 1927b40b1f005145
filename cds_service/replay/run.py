"""`python -m cds_service replay`: an export in, cards.ndjson + summary.json + report.html out.

The engines differ only in how they read, filter, group and apply `evaluate.replay_patient_lines`; what
they produce is written here, the same way for both.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any, Literal

import orjson

from cds_service.replay.evaluate import ReplayJob, runtime
from cds_service.replay.export import export_files
from cds_service.replay.html import render_report
from cds_service.replay.progress import Progress
from cds_service.replay.summary import ReplaySummary

Engine = Literal["embedded", "spark"]
CARDS = "cards.ndjson"
SUMMARY = "summary.json"
REPORT = "report.html"


def replay(export: Path, out: Path, *, since: date | None = None, until: date | None = None,
           engine: Engine = "embedded", hash_key: str, show_progress: bool | None = None,
           spark_master: str | None = None, on_error: Any = None,
           site_conceptmap: str | Path | None = None) -> dict[str, Any]:
    """Replay every checked order of the export; returns the summary (also written to `out`).

    `site_conceptmap` (CDS_SITE_CONCEPTMAP): the site's local codes, as the service reads them; a malformed
    map raises `SiteMapError` before anything is read."""
    started = time.monotonic()
    site_map = None if site_conceptmap is None else str(Path(site_conceptmap).resolve())
    # the packs with the site's map, built first: a malformed map stops the replay before anything is read
    searched = {t.search_type for t in runtime(site_map).needs.templates}
    files = export_files(export)
    present = {f.resource_type for f in files}
    job = ReplayJob(since=since, until=until, hash_key=hash_key, missing_types=frozenset(searched - present),
                    site_conceptmap=site_map)
    summary = ReplaySummary(engine=engine, on_error=on_error)
    summary.files = [{"file": f.path.name, "type": f.resource_type, "bytes": f.size} for f in files]

    def progress(label: str, total: float) -> Progress:
        return Progress(total, label, enabled=show_progress)

    out.mkdir(parents=True, exist_ok=True)
    cards_path = out / CARDS
    partial = out / (CARDS + ".partial")
    with partial.open("wb") as cards_out:
        if engine == "embedded":
            from cds_service.replay.embedded import run_embedded, work_directory

            with work_directory(out) as scratch:
                run_embedded(files, job, summary, cards_out, Path(scratch), progress)
        elif engine == "spark":
            from cds_service.replay.spark import run_spark

            run_spark(files, job, summary, cards_out, master=spark_master, show_progress=show_progress)
        else:  # pragma: no cover - the CLI offers only these
            raise ValueError(f"unknown engine {engine!r}")
    partial.replace(cards_path)  # a finished file or none: never half a cards.ndjson
    summary.seconds = time.monotonic() - started
    data = summary.as_json()
    data["window"] = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
    (out / SUMMARY).write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    (out / REPORT).write_text(render_report(data), encoding="utf-8")
    return data
