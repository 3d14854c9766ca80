"""SQLite WAL checkpoints in a background thread, off the request path.

In WAL mode a commit appends the pages it changed to the -wal file, and a checkpoint copies them back into the
database file (and syncs it). SQLite's automatic checkpoint runs inside whichever commit pushes the WAL past its
threshold, so every few sync pushes one of them paid for copying all the others' pages: about a seventh of a push's
database time (bench/sync_ingest.py). Here each commit only nudges a thread, which runs a PASSIVE checkpoint (it
never waits for a lock and blocks no reader or writer) on its own connection, at most once per `INTERVAL_S`, while
the request goes on. The connections' own automatic checkpoint stays as a backstop at a higher threshold
(extensions.BACKSTOP_PAGES), in case this thread falls behind. Durability is unchanged: a commit is in the WAL
before it returns, checkpointed or not.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time

log = logging.getLogger(__name__)

INTERVAL_S = 0.5

_lock = threading.Lock()
_checkpointers: dict[str, Checkpointer] = {}


class Checkpointer:
    """One daemon thread per database file and process, started at its first nudge."""

    def __init__(self, path: str, interval_s: float = INTERVAL_S):
        self.path, self.interval_s = path, interval_s
        self._changed = threading.Condition()
        self._nudges = 0  # nudges received
        self._served = 0  # nudges that a finished checkpoint started after
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint {path}", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        with self._changed:
            self._nudges += 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until a checkpoint has run since the latest nudge (tests use it to see its effect)."""
        with self._changed:
            wanted = self._nudges
            return self._changed.wait_for(lambda: self._served >= wanted, timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._nudges > self._served)
                covered = self._nudges  # every commit before these nudges is in the WAL already
            started = time.monotonic()
            self.checkpoint()
            with self._changed:
                self._served = covered
                self._changed.notify_all()
            time.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))  # later nudges: one more run

    def checkpoint(self) -> tuple | None:
        """(busy, WAL frames, frames checkpointed), or None when the file cannot be opened (e.g. removed)."""
        try:
            connection = sqlite3.connect(self.path, timeout=0)
            try:
                return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                connection.close()
        except sqlite3.Error:
            log.warning("background WAL checkpoint of %s failed; the connections' own will do it", self.path,
                        exc_info=True)
            return None


def checkpointer_for(path: str) -> Checkpointer:
    with _lock:
        checkpointer = _checkpointers.get(path)
        if checkpointer is None:
            checkpointer = _checkpointers[path] = Checkpointer(path)
        return checkpointer


def nudge(path: str | None) -> None:
    """After a commit to the SQLite file at `path` (None or ":memory:": nothing to do)."""
    if path and path != ":memory:":
        checkpointer_for(path).nudge()
