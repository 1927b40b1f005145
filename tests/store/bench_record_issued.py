"""Cost of `Store.record_issued` (synchronous commit, durable across a process crash), 3 cards x 2 suggestions.

    python -m tests.store.bench_record_issued [DATABASE_URL ...] [--calls 500]

Without URLs: a SQLite file in a temp dir. Each URL must be an empty database (or one already migrated).
Prints median and p99 in milliseconds. Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from cds_service.store import Store
from tests.store.helpers import make_card, new_uuid


def bench(url: str, calls: int) -> tuple[float, float]:
    store = Store(url, "bench-key")
    try:
        store.migrate()
        for _ in range(20):  # warm up the pool and caches
            store.record_issued(
                service_id="svc",
                hook="order-select",
                hook_instance=new_uuid(),
                patient_id="p",
                cards=[make_card() for _ in range(3)],
            )
        samples = []
        for i in range(calls):
            cards = [make_card() for _ in range(3)]
            start = time.perf_counter()
            store.record_issued(
                service_id="svc",
                hook="order-select",
                hook_instance=new_uuid(),
                patient_id=f"p{i}",
                cards=cards,
            )
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        store.close()
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("urls", nargs="*")
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = args.urls or [f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"]
        for url in urls:
            median, p99 = bench(url, args.calls)
            name = url.split(":", 1)[0]
            print(f"{name:<24} calls={args.calls}  median={median:.2f} ms  p99={p99:.2f} ms")


if __name__ == "__main__":
    main()
