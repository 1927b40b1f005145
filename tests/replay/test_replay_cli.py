"""`python -m cds_service replay` as an operator runs it: a subprocess on an export on disk."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bulk import write_scenarios
from cds_service.replay.export import ExportError, export_files
from cds_service.replay.progress import Progress

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env["CDS_PATIENT_HASH_KEY"] = "cli-test-key"
    env.update(extra_env)
    return subprocess.run([sys.executable, "-m", "cds_service", "replay", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export")
    write_scenarios(path)
    return path


def test_malformed_lines_are_named_counted_and_skipped(export: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in export.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    observations = (broken / "Observation.ndjson").read_bytes().splitlines(keepends=True)
    observations.insert(2, b'{"resourceType": "Observation", "id": "cut-off"\n')  # line 3
    observations.insert(5, b"[1, 2, 3]\n")  # line 6
    (broken / "Observation.ndjson").write_bytes(b"".join(observations))
    done = run(str(broken), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{broken / 'Observation.ndjson'}:3: not valid JSON" in done.stderr
    assert f"{broken / 'Observation.ndjson'}:6: not a JSON object but list" in done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["malformed_lines"]["count"] == 2
    assert "malformed lines skipped: 2" in done.stdout
    # the other lines of that file were read: the run's cards equal those of the clean export
    clean = run(str(export), "--out", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    assert (tmp_path / "out" / "cards.ndjson").read_bytes() == (tmp_path / "clean" / "cards.ndjson").read_bytes()
    assert "Replayed" in clean.stdout and "cards.ndjson" in clean.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["/no/such/export"], "no such file or directory"),
    (["{empty}"], "no NDJSON files"),
    (["{export}", "--since", "yesterday"], "--since"),
    (["{export}", "--since", "2026-06-01", "--until", "2026-05-01"], "--until"),
    (["{export}", "--engine", "hadoop"], "--engine"),
])
def test_usage_errors_are_clear(export: Path, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    filled = [a.format(export=export, empty=tmp_path / "empty") for a in args]
    done = run(*filled, "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_malformed_site_conceptmap_is_a_clear_error(export: Path, tmp_path: Path) -> None:
    bad = tmp_path / "map.json"
    bad.write_text('{"resourceType": "ConceptMap", "group": [{"element": "nope"}]}')
    result = run(str(export), "--out", str(tmp_path / "out"), "--no-progress", CDS_SITE_CONCEPTMAP=str(bad))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("replay: CDS_SITE_CONCEPTMAP: group[0]") and "Traceback" not in result.stderr


def test_file_types_from_the_manifest_the_name_or_the_content(tmp_path: Path) -> None:
    (tmp_path / "1.Observation.ndjson").write_text('{"resourceType": "Observation", "id": "o"}\n')
    (tmp_path / "part-0001.ndjson").write_text('\n{"resourceType": "Condition", "id": "c"}\n')
    (tmp_path / "output_a.ndjson").write_text('{"resourceType": "Patient", "id": "p"}\n')
    (tmp_path / "manifest.json").write_text(json.dumps({"output": [
        {"type": "Patient", "url": "https://ehr.example/bulk/output_a.ndjson"}]}))
    assert [(f.path.name, f.resource_type) for f in export_files(tmp_path)] == [
        ("part-0001.ndjson", "Condition"), ("1.Observation.ndjson", "Observation"), ("output_a.ndjson", "Patient")]
    (tmp_path / "junk.ndjson").write_text("not json\n")
    with pytest.raises(ExportError, match=r"junk\.ndjson"):
        export_files(tmp_path)


def test_progress_bar_shows_rate_and_eta_on_a_terminal() -> None:
    stream = io.StringIO()
    bar = Progress(200e6, "partition", stream=stream, enabled=True)
    bar.advance(50e6)
    bar.draw()
    bar.close()
    text = stream.getvalue()
    assert "partition" in text and "25.0%" in text and "MB/s" in text and "ETA " in text
    quiet = io.StringIO()
    bar = Progress(10, "orders", stream=quiet)  # not a terminal: nothing
    bar.advance(5)
    bar.close()
    assert quiet.getvalue() == ""
