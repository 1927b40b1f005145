"""Reading a FHIR Bulk Data `$export` output: its files, their resource types, and their lines.

The Bulk Data IG (Export, "Response - Complete Status") lists the output in a manifest: `output` is an array
of `{"type": <resource type>, "url": <file>}`, each file NDJSON holding resources of that one type, and a
server MAY split one type over several files. File names are the server's choice (`Patient.ndjson`,
`1.Observation.ndjson`, `Observation_2.ndjson`...). So:

- with a manifest in the directory (`manifest.json`, or any `*.json` that has `output`), its `type` is used
  and each `url` is matched to a local file by its file name;
- without one, every `*.ndjson` / `*.ndjson.gz` in the directory is read, its type taken from a resource
  type named in the file name, else from the first resource in it.

Lines are read as bytes (orjson parses bytes), gzip or plain. A malformed line is an `ExportLineError` with
the file and line number: the engines count it and go on.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
_NAME_TOKEN = re.compile(r"[A-Z][A-Za-z]+")


class ExportError(Exception):
    """The export as a whole cannot be read (no such directory, no NDJSON file in it)."""


@dataclass(frozen=True, slots=True)
class ExportFile:
    path: Path
    resource_type: str
    size: int  # bytes on disk (compressed size for .gz): what the progress bar counts

    @property
    def gzipped(self) -> bool:
        return self.path.name.endswith(".gz")


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that is not one FHIR resource: where it is and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def _is_ndjson(path: Path) -> bool:
    return path.is_file() and path.name.endswith(NDJSON_SUFFIXES)


def _open(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(raw file, line stream): the raw file's position is the progress, also for gzip."""
    raw = path.open("rb")
    if path.name.endswith(".gz"):
        return raw, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw, raw


def _type_from_name(path: Path) -> str | None:
    stem = path.name
    for suffix in NDJSON_SUFFIXES:
        stem = stem.removesuffix(suffix)
    tokens = [t for t in _NAME_TOKEN.findall(stem) if t not in ("Bulk", "Export")]
    return tokens[-1] if tokens else None


def _type_from_content(path: Path) -> str | None:
    raw, stream = _open(path)
    try:
        for n, line in enumerate(stream):
            if n > 100:
                break
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
                return value["resourceType"]
    except (OSError, EOFError):
        return None
    finally:
        raw.close()
    return None


def _manifest(directory: Path) -> dict[str, str] | None:
    """file name -> resource type, from a Bulk Data manifest in the directory (None: there is none)."""
    others = sorted(p for p in directory.glob("*.json") if p.name != "manifest.json")
    candidates = [directory / "manifest.json", *others]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            data: Any = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("output"), list):
            continue
        names: dict[str, str] = {}
        for item in data["output"]:
            if isinstance(item, dict) and isinstance(item.get("type"), str) and isinstance(item.get("url"), str):
                names[item["url"].rstrip("/").rsplit("/", 1)[-1]] = item["type"]
        return names
    return None


def export_files(export: Path) -> list[ExportFile]:
    """Every NDJSON file of the export with its resource type, in a stable order (type, then name)."""
    if not export.exists():
        raise ExportError(f"{export}: no such file or directory")
    if export.is_file():
        paths, directory = [export], export.parent
    else:
        directory = export
        paths = sorted(p for p in export.iterdir() if _is_ndjson(p))
    if not paths:
        raise ExportError(f"{export}: no NDJSON files (*.ndjson, *.ndjson.gz) in it")
    manifest = _manifest(directory) if export.is_dir() else None
    files = []
    for path in paths:
        rtype = (manifest or {}).get(path.name) or _type_from_name(path) or _type_from_content(path)
        if rtype is None:
            raise ExportError(f"{path}: cannot tell which resource type it holds (no manifest entry, no type in "
                              f"its name, no readable resource in it)")
        files.append(ExportFile(path, rtype, path.stat().st_size))
    return sorted(files, key=lambda f: (f.resource_type, f.path.name))


def read_lines(file: ExportFile, progress: Any = None) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of every non-blank line; `progress(bytes)` is told how far the raw file got."""
    raw, stream = _open(file.path)
    last = 0
    try:
        for n, line in enumerate(stream, 1):
            if progress is not None and not n % 2048:
                pos = raw.tell()
                progress(pos - last)
                last = pos
            if line.strip():
                yield n, line
    except (OSError, EOFError) as err:
        raise ExportError(f"{file.path}: cannot be read ({err})") from None
    finally:
        if progress is not None:
            progress(file.size - last)
        raw.close()


def parse_line(file: ExportFile, n: int, line: bytes) -> dict | LineError:
    """The resource of one line, or why it is not one (never raises). The line ending is not part of it
    (Spark's reader drops it too: the same message on both engines)."""
    try:
        value = orjson.loads(line.rstrip(b"\r\n"))
    except orjson.JSONDecodeError as err:
        return LineError(str(file.path), n, f"not valid JSON ({err})")
    if not isinstance(value, dict):
        return LineError(str(file.path), n, f"not a JSON object but {type(value).__name__}")
    rtype = value.get("resourceType")
    if not isinstance(rtype, str):
        return LineError(str(file.path), n, "no resourceType")
    if rtype != file.resource_type:
        return LineError(str(file.path), n, f"a {rtype[:40]} in a file of {file.resource_type} resources")
    return value
