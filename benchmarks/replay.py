"""Replay benchmark: `python -m benchmarks.replay [--sizes 10000 100000] [--engines embedded spark] [--smoke]`.

For each size it writes a synthetic export (`benchmarks.bulk`, seed 7, 40 unrelated Observations per
patient on average), then, each in a fresh Python process so that peak RSS (VmHWM) is that run's alone:

- **floor**: one pass of `orjson.loads` over every line of every NDJSON file (the least any replay must do);
- **embedded**: `replay(..., engine="embedded")`;
- **spark**: `replay(..., engine="spark")` on `local[2]` (driver RSS only; the JVM's is not counted).

It reports seconds, patients/s, orders/s, the ratio to the floor, peak RSS, and how time and RSS grow from
the smallest size to the largest. Results go to `benchmarks/results/replay.json`. No threshold is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bulk import generate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "replay.json"

FLOOR = r"""
import json, sys, time, orjson
from pathlib import Path
from cds_service.replay.export import export_files, read_lines
t = time.perf_counter(); c = time.process_time(); n = 0
for f in export_files(Path(sys.argv[1])):
    for _n, line in read_lines(f):
        orjson.loads(line); n += 1
seconds, cpu = time.perf_counter() - t, time.process_time() - c
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "lines": n, "rss_kb": hwm}))
"""

REPLAY = r"""
import json, sys, time
from pathlib import Path
from cds_service.replay.run import replay
t = time.perf_counter(); c = time.process_time()
s = replay(Path(sys.argv[1]), Path(sys.argv[2]), engine=sys.argv[3], hash_key="bench", show_progress=False,
           spark_master="local[2]")
seconds, cpu = time.perf_counter() - t, time.process_time() - c
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rss_kb": hwm, "orders": s["orders_replayed"],
                  "cards": s["cards"],
                  "patients": s["patients_in_export"], "lines": s["lines_read"]}))
"""


def _child(code: str, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_size(patients: int, engines: list[str], work: Path, observations: int) -> dict[str, Any]:
    export = work / f"export-{patients}"
    started = time.perf_counter()
    manifest = generate(export, patients, seed=7, observations=observations)
    size = sum(p.stat().st_size for p in export.glob("*.ndjson"))
    row: dict[str, Any] = {"patients": patients, "export_bytes": size,
                           "resources": sum(o["count"] for o in manifest["output"]),
                           "generate_seconds": round(time.perf_counter() - started, 1)}
    row["floor"] = _child(FLOOR, str(export))
    for engine in engines:
        out = work / f"out-{patients}-{engine}"
        result = _child(REPLAY, str(export), str(out), engine)
        result["patients_per_s"] = round(result["patients"] / result["seconds"], 1)
        result["orders_per_s"] = round(result["orders"] / result["seconds"], 1)
        result["x_floor"] = round(result["seconds"] / row["floor"]["seconds"], 2)
        # on a shared machine wall time waits for a core; CPU time of the process does not (Spark: driver only)
        result["x_floor_cpu"] = round(result["cpu_seconds"] / row["floor"]["cpu_seconds"], 2)
        row[engine] = result
        shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(export, ignore_errors=True)
    return row


def table(rows: list[dict[str, Any]], engines: list[str]) -> str:
    lines = ["| patients | export | floor: wall / CPU | engine | wall s | CPU s | patients/s | orders/s "
             "| × floor (wall / CPU) | peak RSS |", "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        for engine in engines:
            r = row[engine]
            lines.append(
                f"| {row['patients']:,} | {row['export_bytes'] / 1e6:,.0f} MB "
                f"| {row['floor']['seconds']:.1f} / {row['floor']['cpu_seconds']:.1f} s | {engine} "
                f"| {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['patients_per_s']:,.0f} "
                f"| {r['orders_per_s']:,.0f} "
                f"| {r['x_floor']:.2f} / {r['x_floor_cpu']:.2f} | {r['rss_kb'] / 1024:.0f} MB |")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        for engine in engines:
            growth = (last[engine]["seconds"] / first[engine]["seconds"]) / (last["patients"] / first["patients"])
            rss = last[engine]["rss_kb"] / first[engine]["rss_kb"]
            lines.append(f"\n{engine}: time per patient x{growth:.2f} from {first['patients']:,} to "
                         f"{last['patients']:,} patients (1.00 = linear); peak RSS x{rss:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay benchmark (embedded and Spark engines)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["embedded", "spark"], choices=["embedded", "spark"])
    parser.add_argument("--observations", type=int, default=40)
    parser.add_argument("--smoke", action="store_true", help="one tiny export, embedded only (seconds)")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.engines, args.observations = [300], ["embedded"], 10
    rows = []
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        for patients in args.sizes:
            rows.append(bench_size(patients, args.engines, Path(tmp), args.observations))
            print(f"{patients} patients: " + json.dumps({k: v for k, v in rows[-1].items()}), file=sys.stderr)
    report = table(rows, args.engines)
    print(report)
    if not args.smoke:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                     "load_average": os.getloadavg()},
                                         "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
