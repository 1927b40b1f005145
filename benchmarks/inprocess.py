"""In-process CPU cost of one hook call, and the terminology's load time: `python -m benchmarks.inprocess`.

`make bench` measures over HTTP, where a loaded machine moves the figures by tens of percent. This script
measures only our code: `Pipeline.run` on an already-parsed order-sign request (the benchmark's payloads,
`benchmarks/patients.py`), CPU time per call (`time.process_time`, so other processes on the machine
count far less), the median of several rounds after a warm-up. The terminology's load time is measured in
fresh interpreters (import + first `get_terminology()`), the median of several.

Its use: comparing two commits on the same machine in the same minutes, e.g. before and after a change to the
record or the terminology. One run of each moves by ±20% on a shared machine: `benchmarks.compare` runs this
file's measurements in two checkouts alternately, many times, and adds a deterministic count of function
calls. It prints a table and, with `--json PATH`, writes the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LOAD_SNIPPET = (
    "import time; t = time.perf_counter(); "
    "from cds_service.terminology import get_terminology; get_terminology(); "
    "print(time.perf_counter() - t)"
)


def _pipeline() -> Any:
    os.environ.setdefault("CDS_TODAY", "2026-11-25")
    os.environ.setdefault("CDS_AUTH_MODE", "off")
    from cds_service.pipeline import Pipeline
    from cds_service.rules.registry import default_packs
    from cds_service.settings import Settings

    return Pipeline(Settings(), default_packs())


SERVICE = "naltrexone-order-sign"


def _request(payload: str) -> dict:
    from benchmarks import patients

    # "unrelated": the typical chart with an atorvastatin order (the pack decides from the draft alone)
    return patients.order_sign("typical", unrelated=True) if payload == "unrelated" else patients.order_sign(payload)


def cpu_per_call(payload: str, calls: int, rounds: int) -> dict[str, float]:
    """Median (and spread) over `rounds` of the mean CPU ms per call, `calls` calls a round."""
    pipeline = _pipeline()
    request = _request(payload)
    service = SERVICE
    loop = asyncio.new_event_loop()
    try:
        for _ in range(max(10, calls // 5)):  # warm-up: memos, imports, allocator
            loop.run_until_complete(pipeline.run(service, request))
        per_round = []
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(calls):
                loop.run_until_complete(pipeline.run(service, request))
            per_round.append((time.process_time() - start) * 1000 / calls)
    finally:
        loop.close()
    return {"median_ms": statistics.median(per_round), "min_ms": min(per_round), "max_ms": max(per_round)}


def run_calls(payload: str, calls: int) -> dict[str, float]:
    """Just `calls` calls (for an instruction counter around the whole process: two counts' difference)."""
    pipeline = _pipeline()
    request = _request(payload)
    loop = asyncio.new_event_loop()
    try:
        for _ in range(calls):
            loop.run_until_complete(pipeline.run(SERVICE, request))
    finally:
        loop.close()
    return {"calls": calls}


def function_calls(payload: str, calls: int) -> dict[str, float]:
    """Python function calls (cProfile's count, C functions included) per call after a warm-up: a figure other
    processes on the machine cannot move, for comparing two commits' work."""
    import cProfile
    import pstats

    pipeline = _pipeline()
    request = _request(payload)
    loop = asyncio.new_event_loop()
    try:
        for _ in range(10):
            loop.run_until_complete(pipeline.run(SERVICE, request))
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(calls):
            loop.run_until_complete(pipeline.run(SERVICE, request))
        profile.disable()
    finally:
        loop.close()
    total = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    return {"per_call": total / calls, "calls": calls}


def terminology_load(times: int) -> dict[str, float]:
    """Wall seconds from import to a loaded terminology, in `times` fresh interpreters."""
    seen = []
    for _ in range(times):
        out = subprocess.run([sys.executable, "-c", LOAD_SNIPPET], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        seen.append(float(out.stdout.strip().splitlines()[-1]))
    return {"median_s": statistics.median(seen), "min_s": min(seen), "max_s": max(seen)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inprocess", description=__doc__.split("\n\n")[0])
    parser.add_argument("--payloads", default="unrelated,typical,heavy",
                        help="comma-separated: unrelated, typical, heavy, extreme (default %(default)s)")
    parser.add_argument("--calls", type=int, default=200, help="calls per round (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per payload (default %(default)s)")
    parser.add_argument("--loads", type=int, default=7, help="fresh interpreters for the load time")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.rounds < 1 or args.loads < 1:
        parser.error("--calls, --rounds and --loads must be at least 1")
    results: dict[str, Any] = {"cpu_ms_per_call": {}, "terminology_load": terminology_load(args.loads)}
    print(f"terminology load: median {results['terminology_load']['median_s'] * 1000:.0f} ms "
          f"(min {results['terminology_load']['min_s'] * 1000:.0f}, max "
          f"{results['terminology_load']['max_s'] * 1000:.0f}; {args.loads} fresh interpreters)")
    for payload in [p.strip() for p in args.payloads.split(",") if p.strip()]:
        calls = args.calls if payload in ("unrelated", "typical") else max(5, args.calls // 20)
        found = cpu_per_call(payload, calls, args.rounds)
        results["cpu_ms_per_call"][payload] = found
        print(f"{payload:>10}: median {found['median_ms']:.3f} ms CPU per call "
              f"(min {found['min_ms']:.3f}, max {found['max_ms']:.3f}; {args.rounds} rounds of {calls})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
