"""No test module reads the clock at import time.

A value like `NOW = datetime.now(UTC)` at module level is as old as the suite's collection when a test runs:
on a slow machine, minutes later, "five minutes from now" has passed and replay-cache or retention tests
fail for a reason unrelated to any change. Reference times are taken inside the test (or are fixed dates).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns"}


def _import_time_nodes(tree: ast.Module) -> list[ast.AST]:
    """The code that runs on import: module- and class-level statements, decorators and default values."""
    nodes: list[ast.AST] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        stmt = pending.pop()
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            nodes += stmt.decorator_list + stmt.args.defaults + [d for d in stmt.args.kw_defaults if d]
        elif isinstance(stmt, ast.ClassDef):
            nodes += stmt.decorator_list
            pending += stmt.body
        else:
            nodes.append(stmt)
    return nodes


def _walk_eager(node: ast.AST) -> list[ast.AST]:
    """Like ast.walk, but not into lambda bodies (they run when called, not on import)."""
    found, pending = [], [node]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += [c for c in ast.iter_child_nodes(current) if not isinstance(c, ast.Lambda)]
    return found


def clock_reads_at_import(source: str) -> list[int]:
    return sorted(sub.lineno for node in _import_time_nodes(ast.parse(source)) for sub in _walk_eager(node)
                  if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)
                  and sub.func.attr in CLOCK_CALLS)


def test_detector_finds_module_level_clock_reads() -> None:
    assert clock_reads_at_import("from datetime import datetime\nNOW = datetime.now()\n") == [2]
    assert clock_reads_at_import("import time\n@p(time.time())\ndef t(): pass\n") == [2]
    assert clock_reads_at_import("import time\ndef t(x=time.time()): pass\n") == [2]
    assert clock_reads_at_import("import time\ndef t():\n    return time.time()\n") == []
    assert clock_reads_at_import("import time\nCLOCK = lambda: time.time()\n") == []


def test_no_test_module_reads_the_clock_at_import() -> None:
    found = {str(p.relative_to(TESTS)): lines for p in sorted(TESTS.rglob("*.py"))
             if (lines := clock_reads_at_import(p.read_text()))}
    assert found == {}, f"module-level clock reads (take the time inside the test): {found}"
