"""A local, durable journal of ledger writes the database could not take (framework-free, stdlib only).

Why: the EHR must get its cards even when the ledger database is down, and every card it got must still
reach the ledger (feedback names cards by uuid, analytics count them). So a write the database refused is
put here first, fsynced, before the response; a drainer replays it when the database is back.

Layout of the directory (shared by every worker and process of one host):

    tmp/        entries being written (`<name>.json.<pid>`), renamed into pending/ once fsynced
    pending/    one JSON file per entry, named `<time_ns:020>-<pid>-<seq:08>.json`: replayed in name order
    rejected/   entries the database refused for good (e.g. feedback on a card it never saw), kept for
                an operator, never retried
    drain.lock  flock held by the one process replaying (so replay order is the name order)

Crash safety: an entry appears in pending/ only complete (write, fsync, rename, fsync of the directory). It is
removed only after the replay committed; a crash between the commit and the removal replays it again, which
the replay makes a no-op (inserts keyed on the entries' unique ids). Ordering: within a process names grow
strictly; across processes they follow the wall clock, and a card's entry is on disk before its response
leaves, so feedback on it (which comes later) sorts after it.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ENTRY_SUFFIX = ".json"
STALE_TMP_SECONDS = 300.0  # a tmp file this old belongs to a writer that died mid-write
COUNT_CACHE_SECONDS = 1.0  # how stale the entry count used for the bound may be


class JournalUnavailable(Exception):
    """The journal cannot take this entry: full (`reason="full"`) or not writable (`reason="error"`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class RejectEntry(Exception):
    """Raised by a replay function: this entry can never be stored (move it to rejected/, go on)."""


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    kind: str
    data: dict[str, Any]


@dataclass(slots=True)
class DrainResult:
    replayed: list[Entry] = field(default_factory=list)
    rejected: list[tuple[Entry | str, str]] = field(default_factory=list)  # (entry or file name, why)
    error: BaseException | None = None  # the transient error that stopped the drain (None: all done)
    locked_out: bool = False  # another process holds the drain lock: nothing was done

    @property
    def complete(self) -> bool:
        return self.error is None and not self.locked_out


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """Append (durably), count, and drain entries of a journal directory. Thread- and process-safe."""

    def __init__(self, directory: str | os.PathLike[str], *, max_entries: int = 100_000,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.directory = Path(directory)
        self.pending_dir = self.directory / "pending"
        self.tmp_dir = self.directory / "tmp"
        self.rejected_dir = self.directory / "rejected"
        self.max_entries = max_entries
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._last_ns = 0
        self._pid = os.getpid()
        self._count: int | None = None  # entries in pending/ at the last listing, plus own appends since
        self._counted_at = 0.0
        self.last_error: str | None = None  # why the last append failed (None: it worked)
        try:
            self._ensure_dirs()
        except OSError as err:  # the service still starts (and answers cards); /readyz says the journal is off
            self.last_error = f"not writable ({type(err).__name__}: {err.strerror or 'error'})"
            log.error("journal: cannot create %s (%s): cards cannot be kept while the database is down",
                      self.directory, type(err).__name__)

    def _ensure_dirs(self) -> None:
        for d in (self.directory, self.pending_dir, self.tmp_dir, self.rejected_dir):
            with contextlib.suppress(FileExistsError):
                d.mkdir(mode=0o700, parents=True)

    # --- writing -------------------------------------------------------------------------------

    def _next_name(self) -> str:
        with self._lock:
            if os.getpid() != self._pid:  # forked: a new pid, a new sequence
                self._pid, self._seq, self._last_ns = os.getpid(), itertools.count(), 0
            now = max(self._clock_ns(), self._last_ns + 1)  # strictly growing even if the clock steps back
            self._last_ns = now
            return f"{now:020d}-{self._pid}-{next(self._seq):08d}{ENTRY_SUFFIX}"

    def append(self, kind: str, data: dict[str, Any]) -> str:
        """Write one entry durably (returns when it is fsynced in pending/); its name. JournalUnavailable
        when the journal is full or cannot be written (disk full, read-only, permissions)."""
        payload = json.dumps({"v": 1, "kind": kind, "data": data}, separators=(",", ":")).encode()
        name = self._next_name()
        tmp = self.tmp_dir / f"{name}.{os.getpid()}"
        try:
            if self.count() >= self.max_entries:
                self.last_error = f"full ({self.max_entries} entries pending)"
                raise JournalUnavailable("full", f"journal full: {self.max_entries} entries pending replay")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, self.pending_dir / name)
            _fsync_dir(self.pending_dir)
        except OSError as err:
            with contextlib.suppress(OSError):
                tmp.unlink()
            self.last_error = f"not writable ({type(err).__name__}: {err.strerror or 'error'})"
            raise JournalUnavailable("error", f"journal not writable: {type(err).__name__}: {err.strerror}") from None
        self.last_error = None
        with self._lock:
            if self._count is not None:
                self._count += 1
        return name

    def writable(self) -> str | None:
        """None when an entry can be written now, else why not (a probe file, not an entry, is written)."""
        probe = self.pending_dir / f".probe-{os.getpid()}-{threading.get_ident()}"
        try:
            self._ensure_dirs()
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"probe")
            finally:
                os.close(fd)
            os.unlink(probe)
        except OSError as err:
            return f"not writable ({type(err).__name__}: {err.strerror or 'error'})"
        return None

    # --- reading -------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Names of the pending entries, in replay order."""
        try:
            return sorted(n for n in os.listdir(self.pending_dir) if n.endswith(ENTRY_SUFFIX))
        except OSError:  # no directory (could not be created): nothing pending; writable() says why
            return []

    def count(self, *, fresh: bool = False) -> int:
        """Pending entries (cached for up to COUNT_CACHE_SECONDS unless `fresh`: listing a large
        directory on every append would cost more than the append)."""
        now = time.monotonic()
        with self._lock:
            if not fresh and self._count is not None and now - self._counted_at < COUNT_CACHE_SECONDS:
                return self._count
        n = len(self.names())
        with self._lock:
            self._count, self._counted_at = n, now
        return n

    def has_pending(self) -> bool:
        """Any entry pending right now (exact, cheap: stops at the first one)."""
        try:
            with os.scandir(self.pending_dir) as it:
                return any(e.name.endswith(ENTRY_SUFFIX) for e in it)
        except OSError:
            return False

    def rejected_count(self) -> int:
        try:
            return sum(1 for n in os.listdir(self.rejected_dir) if n.endswith(ENTRY_SUFFIX))
        except OSError:
            return 0

    def read(self, name: str) -> Entry:
        """The entry `name` (FileNotFoundError: already replayed; ValueError: unreadable)."""
        raw = (self.pending_dir / name).read_bytes()
        try:
            doc = json.loads(raw)
            return Entry(name=name, kind=str(doc["kind"]), data=dict(doc["data"]))
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"unreadable journal entry ({type(err).__name__})") from None

    def entries(self) -> Iterator[Entry]:
        for name in self.names():
            with contextlib.suppress(FileNotFoundError):
                yield self.read(name)

    # --- draining ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def drain_lock(self, *, wait: bool = False) -> Iterator[bool]:
        """Hold the drain lock (True) or learn that another process does (False, when not `wait`)."""
        fd = os.open(self.directory / "drain.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _done(self, name: str) -> None:
        # no fsync: an entry that comes back after a crash is replayed again, as a no-op
        with contextlib.suppress(FileNotFoundError):
            (self.pending_dir / name).unlink()

    def _reject(self, name: str, why: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.pending_dir / name, self.rejected_dir / name)
            (self.rejected_dir / f"{name}.why").write_text(why + "\n")
        log.error("journal: entry %s rejected for good (kept in %s): %s", name, self.rejected_dir, why)

    def _sweep_tmp(self) -> None:
        cutoff = time.time() - STALE_TMP_SECONDS
        with contextlib.suppress(FileNotFoundError), os.scandir(self.tmp_dir) as it:
            for e in it:
                with contextlib.suppress(OSError):
                    if e.stat().st_mtime < cutoff:
                        os.unlink(e.path)

    def drain(self, replay: Callable[[Sequence[Entry]], None], *, batch_size: int = 100, wait: bool = False,
              stop: Callable[[], bool] = lambda: False) -> DrainResult:
        """Replay every pending entry in order, `batch_size` at a time, holding the drain lock.

        `replay(batch)` must store the whole batch in one transaction or raise. A batch that raises is
        replayed again entry by entry: an entry whose replay raises RejectEntry goes to rejected/; any
        other error is taken as transient (database down): the drain stops there, to be retried, and
        nothing after that entry is replayed (order). Each entry is removed only after its batch committed.
        """
        result = DrainResult()
        with self.drain_lock(wait=wait) as held:
            if not held:
                result.locked_out = True
                return result
            self._sweep_tmp()
            names = self.names()
            for start in range(0, len(names), batch_size):
                if stop():
                    break
                batch: list[Entry] = []
                for name in names[start:start + batch_size]:
                    try:
                        batch.append(self.read(name))
                    except FileNotFoundError:
                        continue
                    except ValueError as err:
                        self._reject(name, str(err))
                        result.rejected.append((name, str(err)))
                if not batch:
                    continue
                try:
                    replay(batch)
                except Exception:
                    if not self._one_by_one(batch, replay, result):
                        break
                else:
                    for entry in batch:
                        self._done(entry.name)
                    result.replayed.extend(batch)
        with self._lock:
            self._count = None  # recount on next use
        return result

    def _one_by_one(self, batch: Sequence[Entry], replay: Callable[[Sequence[Entry]], None],
                    result: DrainResult) -> bool:
        for entry in batch:
            try:
                replay([entry])
            except RejectEntry as err:
                self._reject(entry.name, str(err))
                result.rejected.append((entry, str(err)))
            except Exception as err:
                result.error = err
                return False
            else:
                self._done(entry.name)
                result.replayed.append(entry)
        return True
