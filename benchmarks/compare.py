"""Two commits' in-process figures, interleaved: `python -m benchmarks.compare --against /tmp/old`.

`benchmarks.inprocess` run once per commit moves by ±20% on a shared 2-core machine: another engineer's test
run lands in one commit's minute and not in the other's. This script runs the two alternately (ABBA BAAB ...,
so a trend in the machine's load hits both alike), each run a fresh interpreter in its own checkout measuring
`inprocess.cpu_per_call` (CPU time, `time.process_time`, the median of its rounds) and, with `--loads`, the
terminology's load time. It reports each commit's median over the runs with its quartiles and extremes, the
median of the pairwise ratios, and figures no other process on the machine can move: Python function calls
per `Pipeline.run` (cProfile's count after a warm-up) and, with `--instructions` (needs valgrind), CPU
instructions per call. Both checkouts are byte-compiled first (`compileall`), as an installed package runs.

The other checkout needs no benchmark of its own: this checkout's `inprocess.py` is run there, against that
checkout's `cds_service` and its own `benchmarks/patients.py` (the typical payload as that commit defined it).
Both use this interpreter (one .venv: `git worktree add /tmp/old <commit>` and pass its path).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
INPROCESS = Path(__file__).resolve().parent / "inprocess.py"

# run in the measured checkout (cwd and sys.path[0]): this file's inprocess.py, that checkout's code
SNIPPET = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("inprocess_probe", {path!r})
probe = importlib.util.module_from_spec(spec); spec.loader.exec_module(probe)
what, payload, calls, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if what == "cpu":
    print(json.dumps(probe.cpu_per_call(payload, calls, rounds)))
elif what == "count":
    print(json.dumps(probe.function_calls(payload, calls)))
elif what == "run":
    print(json.dumps(probe.run_calls(payload, calls)))
else:
    print(json.dumps(probe.terminology_load(calls)))
"""


def _run(tree: Path, what: str, payload: str, calls: int, rounds: int) -> Any:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", SNIPPET.format(path=str(INPROCESS)), what, payload, str(calls),
                          str(rounds)], cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def instructions_per_call(tree: Path, payload: str, calls: int) -> float:
    """CPU instructions per call, counted by valgrind (cachegrind, no cache simulation): the difference between
    a process making 2 × `calls` calls and one making `calls`, so start-up and warm-up cancel. Deterministic
    to a few hundredths of a percent, whatever else runs on the machine."""
    counts = []
    for n in (calls, 2 * calls):
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
        out = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                              sys.executable, "-c", SNIPPET.format(path=str(INPROCESS)), "run", payload, str(n), "1"],
                             cwd=tree, env=env, capture_output=True, text=True, check=True)
        found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
        if found is None:
            raise RuntimeError(f"no instruction count in valgrind's output: {out.stderr[-300:]}")
        counts.append(int(found.group(1).replace(",", "")))
    return (counts[1] - counts[0]) / calls


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def summary(values: list[float]) -> dict[str, float]:
    low, high = _quartiles(values)
    return {"median": statistics.median(values), "q1": low, "q3": high, "min": min(values), "max": max(values),
            "runs": len(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, required=True, help="the other commit's checkout (A)")
    parser.add_argument("--payload", default="typical", help="unrelated, typical, heavy (default %(default)s)")
    parser.add_argument("--pairs", type=int, default=20, help="A/B pairs of runs (default %(default)s)")
    parser.add_argument("--calls", type=int, default=200, help="calls per round (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per run (default %(default)s)")
    parser.add_argument("--loads", type=int, default=0,
                        help="fresh interpreters per run for the terminology load time (default: not measured)")
    parser.add_argument("--instructions", type=int, default=0, metavar="CALLS",
                        help="also count CPU instructions per call with valgrind over CALLS calls (e.g. 100; "
                             "needs valgrind; default: not counted)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind (apt-get install valgrind)")
    if args.pairs < 1 or args.calls < 1 or args.rounds < 1 or args.loads < 0:
        parser.error("--pairs, --calls and --rounds must be at least 1, --loads at least 0")
    trees = {"A": args.against.resolve(), "B": HERE}
    for tree in trees.values():  # bytecode cached in both, as an installed package runs
        subprocess.run([sys.executable, "-m", "compileall", "-q", "cds_service", "benchmarks"], cwd=tree,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, check=True,
                       capture_output=True)
    load_before = os.getloadavg()
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    load: dict[str, list[float]] = {"A": [], "B": []}
    ratios = []
    for i in range(args.pairs):
        order = ("A", "B") if i % 4 in (0, 3) else ("B", "A")  # ABBA BAAB: a linear drift cancels
        seen = {}
        for side in order:
            seen[side] = _run(trees[side], "cpu", args.payload, args.calls, args.rounds)["median_ms"]
            cpu[side].append(seen[side])
            if args.loads:
                load[side].append(_run(trees[side], "load", args.payload, args.loads, 1)["median_s"] * 1000)
        ratios.append(seen["B"] / seen["A"])
        print(f"pair {i + 1:>2} ({''.join(order)}): A {seen['A']:.3f} ms, B {seen['B']:.3f} ms, "
              f"B/A {ratios[-1]:.3f}", flush=True)
    load_after = os.getloadavg()
    counted = {side: _run(tree, "count", args.payload, 50, 1) for side, tree in trees.items()}
    results: dict[str, Any] = {
        "payload": args.payload, "trees": {k: str(v) for k, v in trees.items()},
        "cpu_ms_per_call": {side: summary(v) for side, v in cpu.items()},
        "ratio_b_over_a": summary(ratios),
        "function_calls_per_call": counted,
        "load_average_1min": {"before": load_before[0], "after": load_after[0]},
    }
    if args.loads:
        results["terminology_load_ms"] = {side: summary(v) for side, v in load.items()}
    if args.instructions:
        results["instructions_per_call"] = {side: instructions_per_call(tree, args.payload, args.instructions)
                                            for side, tree in trees.items()}
    print(f"\n{args.payload} order-sign, CPU ms per call, {args.pairs} interleaved pairs of {args.rounds} rounds "
          f"of {args.calls} calls; load average {load_before[0]:.1f} -> {load_after[0]:.1f}")
    for side, tree in trees.items():
        s = results["cpu_ms_per_call"][side]
        print(f"  {side} {tree}: median {s['median']:.3f} (quartiles {s['q1']:.3f}-{s['q3']:.3f}, "
              f"min {s['min']:.3f}, max {s['max']:.3f}); {counted[side]['per_call']:.0f} function calls per call")
    r = results["ratio_b_over_a"]
    print(f"  B/A: median {r['median']:.3f} (quartiles {r['q1']:.3f}-{r['q3']:.3f}, min {r['min']:.3f}, "
          f"max {r['max']:.3f}); function calls B/A "
          f"{counted['B']['per_call'] / counted['A']['per_call']:.3f}")
    if args.loads:
        for side in trees:
            s = results["terminology_load_ms"][side]
            print(f"  terminology load {side}: median {s['median']:.1f} ms (quartiles {s['q1']:.1f}-{s['q3']:.1f}, "
                  f"min {s['min']:.1f}, max {s['max']:.1f}; {args.pairs} runs of {args.loads} interpreters)")
    if args.instructions:
        ins = results["instructions_per_call"]
        print(f"  instructions per call (valgrind): A {ins['A'] / 1e6:.3f} M, B {ins['B'] / 1e6:.3f} M, "
              f"B/A {ins['B'] / ins['A']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
