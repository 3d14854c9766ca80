"""An in-memory repository with the same behaviour as the SQLite one (the contract tests hold both to it),
for engine tests that need no disk. A failed transaction is rolled back from an undo log."""
from __future__ import annotations

import copy
import threading

from .store import BaseRepository

_MISSING = object()


class MemoryRepository(BaseRepository):
    def __init__(self):
        self._lock = threading.RLock()
        self._depth = 0
        self._data = {"kv": {}, "records": {}, "outbox": {}, "attachments": {}}
        self._work = self._data
        self._undo: list = []

    # Changes go straight into the tables; an undo log restores them if the transaction fails.
    def _begin(self, write: bool) -> None:
        self._undo = []

    def _commit(self) -> None:
        self._undo = []

    def _rollback(self) -> None:
        for table, key, old in reversed(self._undo):
            if old is _MISSING:
                self._work[table].pop(key, None)
            else:
                self._work[table][key] = old
        self._undo = []

    def _touch(self, table: str, key) -> None:
        self._undo.append((table, key, copy.deepcopy(self._work[table].get(key, _MISSING))))

    # kv
    def _kv_get(self, key):
        return copy.deepcopy(self._work["kv"].get(key))

    def _kv_put(self, key, value):
        self._touch("kv", key)
        if value is None:
            self._work["kv"].pop(key, None)
        else:
            self._work["kv"][key] = copy.deepcopy(value)

    # records
    def _rec_get(self, record_id):
        return copy.deepcopy(self._work["records"].get(record_id))

    def _rec_put(self, row):
        row = copy.deepcopy(row)
        row["dirty"] = sorted(row.get("dirty") or [])
        row["receipt"] = bool(row.get("receipt"))
        self._touch("records", row["id"])
        self._work["records"][row["id"]] = row

    def _rec_list(self, receipts):
        rows = [r for r in self._work["records"].values() if bool(r.get("receipt")) == receipts]
        return copy.deepcopy(sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True))

    # outbox
    def _ob_add(self, row):
        if row["mutation_id"] in self._work["outbox"] or any(r["seq"] == row["seq"]
                                                             for r in self._work["outbox"].values()):
            raise ValueError("duplicate mutation id or seq")
        if row["record_id"] not in self._work["records"]:
            raise ValueError("outbox row for an unknown record")
        self._touch("outbox", row["mutation_id"])
        self._work["outbox"][row["mutation_id"]] = copy.deepcopy(row)

    def _ob_get(self, mutation_id):
        return copy.deepcopy(self._work["outbox"].get(mutation_id))

    def _ob_bump_attempts(self, mutation_ids):
        for mutation_id in mutation_ids:
            row = self._work["outbox"].get(mutation_id)
            if row is not None:
                self._ob_update(mutation_id, attempts=row["attempts"] + 1)

    def _ob_update(self, mutation_id, **changes):
        if mutation_id in self._work["outbox"]:
            self._touch("outbox", mutation_id)
            self._work["outbox"][mutation_id].update(copy.deepcopy(changes))

    def _ob_delete(self, mutation_id):
        self._touch("outbox", mutation_id)
        self._work["outbox"].pop(mutation_id, None)

    def _ob_for_record(self, record_id):
        return copy.deepcopy(sorted((r for r in self._work["outbox"].values() if r["record_id"] == record_id),
                                    key=lambda r: r["seq"]))

    def _ob_sendable(self, after_seq, limit):
        held = {r["record_id"] for r in self._work["outbox"].values() if r["state"] == "failed" and r["op"] == "create"}
        rows = sorted((r for r in self._work["outbox"].values()
                       if r["state"] == "pending" and r["seq"] > after_seq and r["record_id"] not in held),
                      key=lambda r: r["seq"])
        return copy.deepcopy(rows[:limit])

    def _ob_all(self):
        return copy.deepcopy(sorted(self._work["outbox"].values(), key=lambda r: r["seq"]))

    def _ob_stats(self):
        rows = list(self._work["outbox"].values())
        return len(rows), min((r["created_at"] for r in rows), default=None)

    # attachments
    def _att_get(self, sha):
        return copy.deepcopy(self._work["attachments"].get(sha))

    def _att_put(self, row):
        self._touch("attachments", row["sha"])
        self._work["attachments"][row["sha"]] = {**copy.deepcopy(row), "purge": bool(row.get("purge"))}

    def _att_list(self, state):
        return copy.deepcopy(sorted((r for r in self._work["attachments"].values() if r["state"] == state),
                                    key=lambda r: r["sha"]))
