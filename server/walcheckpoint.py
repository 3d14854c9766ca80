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
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint {path}", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        self._idle.clear()
        self._wanted.set()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no nudge is waiting to be served (tests use it to see a checkpoint's effect)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            started = time.monotonic()
            self.checkpoint()
            if not self._wanted.is_set():
                self._idle.set()
            time.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))  # nudges meanwhile: one more run

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
