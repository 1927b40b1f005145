"""Card ids are RFC 9562 UUIDv7: valid, unique, and ordered by the millisecond they were made in."""

from __future__ import annotations

import time
import uuid

from cds_service.cards.ids import uuid7


def test_uuid7_layout() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(uuid7())
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_uuid7_unique_and_time_ordered() -> None:
    first = [uuid7() for _ in range(2000)]
    time.sleep(0.002)
    later = [uuid7() for _ in range(10)]
    assert len(set(first + later)) == 2010
    assert max(first) < min(later)  # a later millisecond sorts after: ledger inserts append
    assert all(len(u) == 36 and u == str(uuid.UUID(u)) for u in first[:50])
