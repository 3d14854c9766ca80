"""The tablet's local store: a repository of records, their sync state, the outbox, attachments and settings.

`Repository` is what the engine and the app see. `BaseRepository` holds the domain operations once, written over a
handful of storage primitives; `SQLiteRepository` implements those on SQLite (WAL, synchronous=FULL, one
connection behind a lock, explicit transactions) and `memory_store.MemoryRepository` on dictionaries. One contract
test suite runs against both.
"""
from __future__ import annotations

import contextlib
import copy
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator, Protocol

from . import outbox as rules
from .models import LocalRecord, RecordResult

ACKNOWLEDGED = ("applied", "duplicate", "conflict")


@dataclass
class OutboxItem:
    mutation_id: str
    seq: int
    record_id: str
    op: str
    body: str            # the exact JSON sent, every time
    state: str           # pending | failed
    attempts: int
    last_error: str | None
    created_at: str


@dataclass
class Attachment:
    sha: str
    path: str
    size: int
    content_type: str
    uploaded_bytes: int
    state: str           # local (only in drafts) | pending | complete | failed
    attempts: int
    last_error: str | None
    purge: bool          # delete the file once the server has it (confidential evidence)


class Repository(Protocol):
    def get(self, key: str, default=None): ...
    def put(self, key: str, value) -> None: ...
    def put_many(self, values: dict) -> None: ...
    def get_record(self, record_id: str) -> LocalRecord | None: ...
    def list_records(self, states=None) -> list[LocalRecord]: ...
    def receipts(self) -> list[dict]: ...
    def save_draft(self, record: LocalRecord, now: datetime) -> LocalRecord: ...
    def submit(self, record: LocalRecord, now: datetime, *, offset_s: float | None = None,
               photo_shas=()) -> LocalRecord: ...
    def outbox(self, after_seq: int = -1, limit: int = 200) -> list[OutboxItem]: ...
    def outbox_items(self) -> list[OutboxItem]: ...
    def outbox_stats(self, now: datetime) -> tuple[int, int | None]: ...
    def mark_sending(self, mutation_ids: list[str]) -> None: ...
    def note_push_error(self, mutation_ids: list[str], error: str) -> None: ...
    def apply_push_results(self, sent: list[OutboxItem], results: list[dict], now: datetime,
                           confidential: set[str]) -> tuple[list[RecordResult], list[str]]: ...
    def add_attachment(self, sha: str, path: str, size: int, content_type: str) -> None: ...
    def attachment(self, sha: str) -> Attachment | None: ...
    def pending_attachments(self) -> list[Attachment]: ...
    def update_attachment(self, sha: str, **changes) -> None: ...
    def failed_attachments(self) -> int: ...
    def apply_pull_page(self, snapshots: list[dict], cursor: str, now: datetime,
                        confidential: set[str]) -> list[str]: ...
    def close(self) -> None: ...


class BaseRepository:
    """Domain operations over storage primitives (`_begin`/`_commit`/`_rollback`, `_kv_*`, `_rec_*`, `_ob_*`,
    `_att_*`). Subclasses set `_lock` (an RLock) and `_depth = 0`."""

    @contextlib.contextmanager
    def _tx(self, write: bool = True) -> Iterator[None]:
        """One transaction at a time; a nested call joins the one already open."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._begin(write)
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._rollback()
                raise
            self._depth = 0
            self._commit()

    # --- key-value ---------------------------------------------------------------------------------------------
    def get(self, key: str, default=None):
        with self._tx(write=False):
            value = self._kv_get(key)
        return default if value is None else value

    def put(self, key: str, value) -> None:
        with self._tx():
            self._kv_put(key, value)

    def put_many(self, values: dict) -> None:
        with self._tx():
            for key, value in values.items():
                self._kv_put(key, value)

    # --- records -----------------------------------------------------------------------------------------------
    def get_record(self, record_id: str) -> LocalRecord | None:
        with self._tx(write=False):
            row = self._rec_get(record_id)
            return None if row is None else self._to_record(row)

    def list_records(self, states=None) -> list[LocalRecord]:
        with self._tx(write=False):
            rows = self._rec_list(receipts=False)
            records = [self._to_record(row) for row in rows]
        if states is not None:
            states = set(states)
            records = [r for r in records if r.state in states]
        return records

    def receipts(self) -> list[dict]:
        with self._tx(write=False):
            rows = self._rec_list(receipts=True)
        return [{"id": r["id"], "category": r["category"], "grid_code": r["grid_code"],
                 "submitted_at": rules.parse_time(r.get("submitted_at")),
                 "server_version": r.get("server_version"), "status": r.get("status")} for r in rows]

    def save_draft(self, record: LocalRecord, now: datetime) -> LocalRecord:
        with self._tx():
            stored = self._rec_get(record.id)
            row = self._merge_local(stored, record, now)
            self._rec_put(row)
            self._link_photos(row["id"], None)
            self._refresh(row["id"])
            return self._to_record(self._rec_get(record.id))

    def submit(self, record: LocalRecord, now: datetime, *, offset_s: float | None = None,
               photo_shas=()) -> LocalRecord:
        """Save and queue the mutation in one transaction (both or neither)."""
        with self._tx():
            stored = self._rec_get(record.id)
            if stored is not None and stored.get("receipt"):
                raise ValueError("a confidential record already uploaded cannot be changed")
            outbox_rows = self._ob_for_record(record.id)
            plan = rules.plan_submit(stored, record.fields, record.grid_code, outbox_rows)
            row = self._merge_local(stored, record, now)
            row["shadow"] = {"fields": copy.deepcopy(record.fields), "grid_code": record.grid_code}
            row["errors"] = {}
            row["submitted_at"] = row.get("submitted_at") or rules.iso(now)
            row["dirty"] = sorted(set(row.get("dirty") or []) | set(plan.get("fields") or {}))
            self._rec_put(row)
            for mutation_id in plan["drop"]:
                self._ob_delete(mutation_id)
            if plan["op"] == "create":
                body = rules.build_mutation(record_id=record.id, op="create", fields=plan["fields"], now=now,
                                            offset_s=offset_s, category=record.category, grid_code=record.grid_code)
                self._queue(body, now)
            elif plan["op"] == "rewrite":
                old = next(m for m in outbox_rows if m["mutation_id"] == plan["rewrite"])
                body = rules.build_mutation(record_id=record.id, op="create", fields=plan["fields"], now=now,
                                            offset_s=offset_s, category=record.category, grid_code=record.grid_code,
                                            mutation_id=old["mutation_id"])
                body["seq"] = old["seq"]
                self._ob_update(old["mutation_id"], body=rules.dumps(body))
            elif plan["op"] == "update":
                body = rules.build_mutation(record_id=record.id, op="update", fields=plan["fields"], now=now,
                                            offset_s=offset_s, base_version=plan["base_version"],
                                            grid_code=plan["grid_code"])
                self._queue(body, now)
            self._link_photos(record.id, list(photo_shas))
            self._refresh(record.id)
            return self._to_record(self._rec_get(record.id))

    def _queue(self, body: dict, now: datetime) -> None:
        seq = int(self._kv_get("next_seq") or 1)
        self._kv_put("next_seq", seq + 1)
        body["seq"] = seq
        self._ob_add({"mutation_id": body["mutation_id"], "seq": seq, "record_id": body["record_id"],
                      "op": body["op"], "base_version": body.get("base_version"), "body": rules.dumps(body),
                      "state": "pending", "attempts": 0, "last_error": None, "created_at": rules.iso(now)})

    def _merge_local(self, stored: dict | None, record: LocalRecord, now: datetime) -> dict:
        if stored is None:
            created = record.created_at or now
            stored = {"id": record.id, "category": record.category, "grid_code": record.grid_code, "fields": {},
                      "shadow": None, "dirty": [], "state": "draft", "server_version": None, "status": None,
                      "status_comment": None, "errors": {}, "conflicts": [], "receipt": False,
                      "created_at": rules.iso(created), "updated_at": rules.iso(now), "submitted_at": None,
                      "photo_shas": []}
        row = copy.deepcopy(stored)
        row["fields"] = copy.deepcopy(record.fields)
        row["grid_code"] = record.grid_code
        row["updated_at"] = rules.iso(now)
        row["dirty"] = sorted(set(row.get("dirty") or [])
                              | rules.draft_changes(row["fields"], row["shadow"], row["grid_code"]))
        return row

    def _link_photos(self, record_id: str, shas: list[str] | None) -> None:
        """Remember which photos a submitted record refers to; they become due for upload."""
        if shas is None:
            return
        row = self._rec_get(record_id)
        row["photo_shas"] = shas
        self._rec_put(row)
        for sha in shas:
            att = self._att_get(sha)
            if att is not None and att["state"] == "local":
                att["state"] = "pending"
                self._att_put(att)

    def _refresh(self, record_id: str, row: dict | None = None) -> None:
        """Recompute a record's state and unpushed fields; with `row` given, that (changed) row is written."""
        changed = row is not None
        row = row if row is not None else self._rec_get(record_id)
        if row is None:
            return
        outbox_rows = self._ob_for_record(record_id)
        pending = sum(1 for m in outbox_rows if m["state"] == "pending")
        failed = sum(1 for m in outbox_rows if m["state"] == "failed")
        state = rules.derive_state(row, pending=pending, failed=failed, photos_pending=self._photos_pending(row))
        dirty = sorted(rules.pending_fields(outbox_rows)
                       | rules.draft_changes(row["fields"], row["shadow"], row["grid_code"]))
        if changed or state != row["state"] or dirty != row.get("dirty"):
            row["state"], row["dirty"] = state, dirty
            self._rec_put(row)

    def _photos_pending(self, row: dict) -> int:
        count = 0
        for sha in row.get("photo_shas") or []:
            att = self._att_get(sha)
            if att is not None and att["state"] != "complete":
                count += 1
        return count

    def _to_record(self, row: dict) -> LocalRecord:
        return LocalRecord(id=row["id"], category=row["category"], grid_code=row["grid_code"],
                           fields=copy.deepcopy(row["fields"]), state=row["state"],
                           created_at=rules.parse_time(row["created_at"]),
                           updated_at=rules.parse_time(row["updated_at"]),
                           server_version=row.get("server_version"), status=row.get("status"),
                           status_comment=row.get("status_comment"), errors=copy.deepcopy(row.get("errors") or {}),
                           conflicts=copy.deepcopy(row.get("conflicts") or []), receipt=bool(row.get("receipt")),
                           photos_pending=self._photos_pending(row))

    # --- outbox ------------------------------------------------------------------------------------------------
    def outbox(self, after_seq: int = -1, limit: int = 200) -> list[OutboxItem]:
        """Mutations to send, in seq order: pending ones, except the updates of a record whose create was refused."""
        with self._tx(write=False):
            return [OutboxItem(**{k: r[k] for k in OutboxItem.__dataclass_fields__})
                    for r in self._ob_sendable(after_seq, limit)]

    def outbox_items(self) -> list[OutboxItem]:
        with self._tx(write=False):
            return [OutboxItem(**{k: r[k] for k in OutboxItem.__dataclass_fields__}) for r in self._ob_all()]

    def outbox_stats(self, now: datetime) -> tuple[int, int | None]:
        with self._tx(write=False):
            depth, oldest = self._ob_stats()
        if oldest is None:
            return depth, None
        return depth, max(0, int((now - rules.parse_time(oldest)).total_seconds()))

    def mark_sending(self, mutation_ids: list[str]) -> None:
        with self._tx():
            self._ob_bump_attempts(mutation_ids)

    def note_push_error(self, mutation_ids: list[str], error: str) -> None:
        with self._tx():
            for mutation_id in mutation_ids:
                if self._ob_get(mutation_id) is not None:
                    self._ob_update(mutation_id, last_error=error)

    def apply_push_results(self, sent: list[OutboxItem], results: list[dict], now: datetime,
                           confidential: set[str]) -> tuple[list[RecordResult], list[str]]:
        """Store a push's answers in one transaction. Returns per-record results and files to delete."""
        outcomes, purge = [], []
        with self._tx():
            records: dict[str, dict | None] = {}
            for result in results:
                mutation_id, status = result.get("mutation_id"), result.get("status")
                row = self._ob_get(mutation_id) if mutation_id else None
                if row is None:
                    continue
                record_id = row["record_id"]
                if record_id not in records:
                    records[record_id] = self._rec_get(record_id)
                rec = records[record_id]
                if status in ACKNOWLEDGED:
                    self._ob_delete(mutation_id)
                    if rec is not None:
                        version = result.get("version")
                        if isinstance(version, int) and (rec.get("server_version") or 0) < version:
                            rec["server_version"] = version
                        if result.get("conflicts"):
                            rec["conflicts"] = [{**c, "version": version} for c in result["conflicts"]]
                        if rec.get("status") is None:
                            rec["status"] = "reported"
                        elif rec.get("status") == "returned" and row["op"] == "update" and \
                                (rec.get("server_version") or 0) >= (row.get("base_version") or 0) + 1:
                            # The server puts a corrected record back into review when it applies the update
                            # (sync protocol); say so now rather than only after the next pull.
                            rec["status"], rec["status_comment"] = "reported", None
                        if rec["category"] in confidential and row["op"] == "create":
                            purge += self._make_receipt(rec)
                    outcome = "conflict" if (status == "conflict" or result.get("original_status") == "conflict") \
                        else status
                    outcomes.append(RecordResult(record_id, outcome, "", {}))
                elif status == "rejected" and result.get("retry"):
                    self._ob_update(mutation_id, last_error=result.get("message") or "retry")
                    outcomes.append(RecordResult(record_id, "retry", result.get("message") or "", {}))
                else:
                    errors = result.get("errors") if isinstance(result.get("errors"), dict) else {}
                    self._ob_update(mutation_id, state="failed", last_error=result.get("message") or "rejected")
                    if rec is not None:
                        rec["errors"] = errors
                    outcomes.append(RecordResult(record_id, "rejected", result.get("message") or "", errors))
            for rec in records.values():
                if rec is not None:
                    self._refresh(rec["id"], rec)
        return outcomes, purge

    def _make_receipt(self, rec: dict) -> list[str]:
        """Remove a confidential record's content; keep only a receipt. Returns photo files to delete now."""
        purge = []
        for sha in rec.get("photo_shas") or []:
            att = self._att_get(sha)
            if att is None:
                continue
            if att["state"] == "complete":
                purge.append(att["path"])
            else:
                att["purge"] = True
                self._att_put(att)
        rec.update(fields={}, shadow={"fields": {}, "grid_code": rec["grid_code"]}, dirty=[], receipt=True,
                   errors={}, conflicts=[])
        for m in self._ob_for_record(rec["id"]):
            self._ob_delete(m["mutation_id"])
        return purge

    # --- attachments -------------------------------------------------------------------------------------------
    def add_attachment(self, sha: str, path: str, size: int, content_type: str) -> None:
        with self._tx():
            if self._att_get(sha) is None:
                self._att_put({"sha": sha, "path": path, "size": size, "content_type": content_type,
                               "uploaded_bytes": 0, "state": "local", "attempts": 0, "last_error": None,
                               "purge": False})

    def attachment(self, sha: str) -> Attachment | None:
        with self._tx(write=False):
            row = self._att_get(sha)
        return None if row is None else Attachment(**row)

    def pending_attachments(self) -> list[Attachment]:
        with self._tx(write=False):
            return [Attachment(**row) for row in self._att_list("pending")]

    def update_attachment(self, sha: str, **changes) -> None:
        with self._tx():
            row = self._att_get(sha)
            if row is None:
                return
            if changes.pop("attempt", False):
                row["attempts"] += 1
            row.update(changes)
            self._att_put(row)
            if "state" in changes:
                for rec in self._rec_list(receipts=False):
                    if sha in (rec.get("photo_shas") or []):
                        self._refresh(rec["id"])

    def failed_attachments(self) -> int:
        with self._tx(write=False):
            return len(self._att_list("failed"))

    # --- pull --------------------------------------------------------------------------------------------------
    def apply_pull_page(self, snapshots: list[dict], cursor: str, now: datetime,
                        confidential: set[str]) -> list[str]:
        """Apply one page of snapshots and store its cursor, in one transaction. Returns files to delete."""
        purge: list[str] = []
        with self._tx():
            # Each record and its outbox rows read once for the page; a record named twice is read again the
            # second time, since applying the first snapshot may have changed it.
            ids = [snap["id"] for snap in snapshots]
            records, outboxes = self._rec_get_many(ids), self._ob_for_records(ids)
            for snap in snapshots:
                if snap["id"] in records:
                    rec, outbox_rows = records.pop(snap["id"]), outboxes.pop(snap["id"], [])
                else:
                    rec, outbox_rows = self._rec_get(snap["id"]), self._ob_for_record(snap["id"])
                purge += self._apply_snapshot(snap, rec, outbox_rows, now, confidential)
            self._kv_put("cursor", cursor)
        return purge

    def _apply_snapshot(self, snap: dict, rec: dict | None, outbox_rows: list[dict], now: datetime,
                        confidential: set[str]) -> list[str]:
        receipt = bool(snap.get("receipt")) or snap.get("category") in confidential
        if rec is None:
            rec = {"id": snap["id"], "category": snap["category"], "grid_code": snap["grid_code"], "fields": {},
                   "shadow": {"fields": {}, "grid_code": snap["grid_code"]}, "dirty": [], "state": "uploaded",
                   "server_version": None, "status": None, "status_comment": None, "errors": {}, "conflicts": [],
                   "receipt": False, "created_at": snap.get("updated_at") or rules.iso(now),
                   "updated_at": rules.iso(now), "submitted_at": None, "photo_shas": []}
        elif (rec.get("server_version") or 0) > snap["version"]:
            return []   # older than what the tablet has: a later page or push already told us more
        purge: list[str] = []
        if receipt:
            rec.update(server_version=snap["version"], status=snap.get("status"),
                       status_comment=snap.get("status_comment"))
            rec["submitted_at"] = rec.get("submitted_at") or snap.get("updated_at")
            if not rec.get("receipt"):
                purge = self._make_receipt(rec)
            self._rec_put(rec)
            return purge
        unpushed = rules.pending_fields(outbox_rows) | rules.draft_changes(rec["fields"], rec["shadow"],
                                                                           rec["grid_code"])
        if rec.get("shadow") is None:
            unpushed |= set(rec["fields"])
        merged = rules.merge_snapshot(rec, snap, unpushed)
        if merged != rec or rec.get("state") is None:
            merged["updated_at"] = rules.iso(now) if merged["fields"] != rec["fields"] else rec["updated_at"]
            self._rec_put(merged)
            self._refresh(rec["id"])
        return purge

    # --- primitives each storage implements --------------------------------------------------------------------
    def _begin(self, write: bool): raise NotImplementedError
    def _commit(self): raise NotImplementedError
    def _rollback(self): raise NotImplementedError
    def _kv_get(self, key): raise NotImplementedError
    def _kv_put(self, key, value): raise NotImplementedError
    def _rec_get(self, record_id): raise NotImplementedError
    def _rec_put(self, row): raise NotImplementedError
    def _rec_list(self, receipts: bool): raise NotImplementedError
    def _ob_add(self, row): raise NotImplementedError
    def _ob_get(self, mutation_id): raise NotImplementedError
    def _ob_bump_attempts(self, mutation_ids): raise NotImplementedError
    def _ob_update(self, mutation_id, **changes): raise NotImplementedError
    def _ob_delete(self, mutation_id): raise NotImplementedError
    def _ob_for_record(self, record_id): raise NotImplementedError
    def _ob_sendable(self, after_seq, limit): raise NotImplementedError
    def _ob_all(self): raise NotImplementedError
    def _ob_stats(self): raise NotImplementedError
    def _att_get(self, sha): raise NotImplementedError
    def _att_put(self, row): raise NotImplementedError
    def _att_list(self, state): raise NotImplementedError

    # Reads for a whole page of records; a storage with a query language does each in one statement.
    def _rec_get_many(self, record_ids: list[str]) -> dict[str, dict | None]:
        return {record_id: self._rec_get(record_id) for record_id in record_ids}

    def _ob_for_records(self, record_ids: list[str]) -> dict[str, list[dict]]:
        return {record_id: self._ob_for_record(record_id) for record_id in record_ids}

    def close(self) -> None:
        pass


# --- SQLite --------------------------------------------------------------------------------------------------------

MIGRATIONS = [
    # 1: the first schema
    """
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE records (
        id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        grid_code TEXT NOT NULL,
        fields TEXT NOT NULL,
        shadow TEXT,
        local_fields_dirty TEXT NOT NULL DEFAULT '[]',
        state TEXT NOT NULL,
        server_version INTEGER,
        status TEXT,
        status_comment TEXT,
        errors TEXT NOT NULL DEFAULT '{}',
        conflicts TEXT NOT NULL DEFAULT '[]',
        receipt INTEGER NOT NULL DEFAULT 0,
        photo_shas TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        submitted_at TEXT
    );
    CREATE INDEX records_listing ON records (receipt, created_at);
    CREATE TABLE outbox (
        mutation_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
        op TEXT NOT NULL CHECK (op IN ('create', 'update')),
        base_version INTEGER,
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX outbox_record ON outbox (record_id, seq);
    CREATE TABLE attachments (
        sha TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        uploaded_bytes INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'local',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        purge INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attachments_state ON attachments (state);
    """,
]

_REC_JSON = ("fields", "shadow", "errors", "conflicts", "photo_shas")
_REC_COLUMNS = ("id", "category", "grid_code", "fields", "shadow", "local_fields_dirty", "state", "server_version",
                "status", "status_comment", "errors", "conflicts", "receipt", "photo_shas", "created_at",
                "updated_at", "submitted_at")
_OB_COLUMNS = ("mutation_id", "seq", "record_id", "op", "base_version", "body", "state", "attempts", "last_error",
               "created_at")
_ATT_COLUMNS = ("sha", "path", "size", "content_type", "uploaded_bytes", "state", "attempts", "last_error", "purge")


def _chunks(values: list, size: int = 500):
    """Slices small enough for an IN (...) list (SQLite's limit on bound parameters)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


_EMPTY_JSON = {"[]": list, "{}": dict}


def _json_column(text: str | None):
    """json.loads, except that the empty containers most record columns hold are made directly (four of a record's
    six JSON columns are usually empty, and each json.loads costs a microsecond even then)."""
    if text is None:
        return None
    empty = _EMPTY_JSON.get(text)
    return empty() if empty is not None else json.loads(text)


class SQLiteRepository(BaseRepository):
    def __init__(self, path: str | Path):
        self.path = str(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA secure_delete=ON")   # removed confidential content leaves no readable pages
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in script.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    def _begin(self, write: bool) -> None:
        self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        self._db.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # kv
    def _kv_get(self, key):
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def _kv_put(self, key, value):
        if value is None:
            self._db.execute("DELETE FROM kv WHERE key = ?", (key,))
        else:
            self._db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                             "value = excluded.value", (key, json.dumps(value, ensure_ascii=False)))

    # records
    @staticmethod
    def _rec_row(row) -> dict:
        data = dict(row)
        for key in _REC_JSON:
            data[key] = _json_column(data[key])
        data["dirty"] = _json_column(data.pop("local_fields_dirty"))
        data["receipt"] = bool(data["receipt"])
        return data

    def _rec_get(self, record_id):
        row = self._db.execute("SELECT * FROM records WHERE id = ?", (record_id,)).fetchone()
        return None if row is None else self._rec_row(row)

    def _rec_get_many(self, record_ids):
        found = dict.fromkeys(record_ids)
        for chunk in _chunks(list(found)):
            for row in self._db.execute(f"SELECT * FROM records WHERE id IN ({', '.join('?' * len(chunk))})", chunk):
                found[row["id"]] = self._rec_row(row)
        return found

    def _rec_put(self, row):
        values = dict(row)
        values["local_fields_dirty"] = json.dumps(sorted(values.pop("dirty", []) or []))
        for key in _REC_JSON:
            values[key] = None if values.get(key) is None else rules.dumps(values[key])
        values["receipt"] = int(bool(values.get("receipt")))
        placeholders = ", ".join("?" for _ in _REC_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _REC_COLUMNS[1:])
        self._db.execute(f"INSERT INTO records ({', '.join(_REC_COLUMNS)}) VALUES ({placeholders}) "
                         f"ON CONFLICT (id) DO UPDATE SET {updates}", [values.get(c) for c in _REC_COLUMNS])

    def _rec_list(self, receipts):
        rows = self._db.execute("SELECT * FROM records WHERE receipt = ? ORDER BY created_at DESC, id DESC",
                                (int(receipts),))
        return [self._rec_row(r) for r in rows]

    def apply_push_results(self, sent, results, now, confidential):
        """The common case in bulk: a plain acknowledgement of a record's only pending mutation, with no photos,
        conflicts, draft edits or confidentiality, just makes the record uploaded. Everything else takes the
        general path (in the same transaction), and the answers keep their order."""
        with self._tx():
            by_id = {item.mutation_id: item for item in sent}
            ids = list({item.record_id for item in sent})
            secret = sorted(confidential)  # a confidential record's upload turns it into a receipt: general path
            simple_records = set()
            for chunk in _chunks(ids):
                marks = ", ".join("?" * len(chunk))
                simple_records |= {row[0] for row in self._db.execute(
                    f"SELECT r.id FROM records r WHERE r.id IN ({marks}) AND r.receipt = 0 "
                    "AND r.photo_shas = '[]' AND r.conflicts = '[]' AND coalesce(r.status, '') != 'returned' "
                    "AND r.shadow IS NOT NULL AND r.fields = json_extract(r.shadow, '$.fields') "
                    "AND r.grid_code = json_extract(r.shadow, '$.grid_code') "
                    f"AND r.category NOT IN ({', '.join('?' * len(secret))}) "
                    "AND (SELECT count(*) FROM outbox o WHERE o.record_id = r.id) = 1", [*chunk, *secret])}
            fast, slow, order = [], [], []
            for result in results:
                item = by_id.get(result.get("mutation_id"))
                plain = (item is not None and item.record_id in simple_records
                         and result.get("status") in ACKNOWLEDGED and not result.get("conflicts")
                         and result.get("original_status", "applied") == "applied"
                         and isinstance(result.get("version"), int) and not isinstance(result.get("version"), bool))
                (fast if plain else slow).append((item, result))
                order.append((plain, result))
            self._db.executemany(
                "UPDATE records SET server_version = max(coalesce(server_version, 0), ?), "
                "status = coalesce(status, 'reported'), state = 'uploaded', local_fields_dirty = '[]' WHERE id = ?",
                [(result["version"], item.record_id) for item, result in fast])
            self._db.executemany("DELETE FROM outbox WHERE mutation_id = ?", [(item.mutation_id,) for item, _ in fast])
            slow_outcomes, purge = (super().apply_push_results(sent, [r for _, r in slow], now, confidential)
                                    if slow else ([], []))
        fast_outcomes = iter(RecordResult(item.record_id, result["status"], "", {}) for item, result in fast)
        slow_iter = iter(slow_outcomes)
        outcomes = []
        for plain, result in order:
            if plain:
                outcomes.append(next(fast_outcomes))
            else:
                outcome = next(slow_iter, None)
                if outcome is not None:
                    outcomes.append(outcome)
        return outcomes, purge

    # outbox
    def _ob_add(self, row):
        self._db.execute(f"INSERT INTO outbox ({', '.join(_OB_COLUMNS)}) VALUES ({', '.join('?' * len(_OB_COLUMNS))})",
                         [row[c] for c in _OB_COLUMNS])

    def _ob_get(self, mutation_id):
        row = self._db.execute("SELECT * FROM outbox WHERE mutation_id = ?", (mutation_id,)).fetchone()
        return None if row is None else dict(row)

    def _ob_bump_attempts(self, mutation_ids):
        for chunk in _chunks(mutation_ids):
            self._db.execute(f"UPDATE outbox SET attempts = attempts + 1 WHERE mutation_id IN "
                             f"({', '.join('?' * len(chunk))})", chunk)

    def _ob_update(self, mutation_id, **changes):
        assignments = ", ".join(f"{k} = ?" for k in changes)
        self._db.execute(f"UPDATE outbox SET {assignments} WHERE mutation_id = ?", [*changes.values(), mutation_id])

    def _ob_delete(self, mutation_id):
        self._db.execute("DELETE FROM outbox WHERE mutation_id = ?", (mutation_id,))

    def _ob_for_record(self, record_id):
        return [dict(r) for r in self._db.execute("SELECT * FROM outbox WHERE record_id = ? ORDER BY seq",
                                                  (record_id,))]

    def _ob_for_records(self, record_ids):
        found = {record_id: [] for record_id in record_ids}
        for chunk in _chunks(list(found)):
            for row in self._db.execute(f"SELECT * FROM outbox WHERE record_id IN ({', '.join('?' * len(chunk))}) "
                                        "ORDER BY seq", chunk):
                found[row["record_id"]].append(dict(row))
        return found

    def _ob_sendable(self, after_seq, limit):
        return [dict(r) for r in self._db.execute(
            "SELECT * FROM outbox WHERE state = 'pending' AND seq > ? AND record_id NOT IN "
            "(SELECT record_id FROM outbox WHERE state = 'failed' AND op = 'create') ORDER BY seq LIMIT ?",
            (after_seq, limit))]

    def _ob_all(self):
        return [dict(r) for r in self._db.execute("SELECT * FROM outbox ORDER BY seq")]

    def _ob_stats(self):
        row = self._db.execute("SELECT count(*), min(created_at) FROM outbox").fetchone()
        return row[0], row[1]

    # attachments
    @staticmethod
    def _att_row(row) -> dict:
        data = dict(row)
        data["purge"] = bool(data["purge"])
        return data

    def _att_get(self, sha):
        row = self._db.execute("SELECT * FROM attachments WHERE sha = ?", (sha,)).fetchone()
        return None if row is None else self._att_row(row)

    def _att_put(self, row):
        values = {**row, "purge": int(bool(row.get("purge")))}
        updates = ", ".join(f"{c} = excluded.{c}" for c in _ATT_COLUMNS[1:])
        self._db.execute(f"INSERT INTO attachments ({', '.join(_ATT_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(_ATT_COLUMNS))}) ON CONFLICT (sha) DO UPDATE SET {updates}",
                         [values[c] for c in _ATT_COLUMNS])

    def _att_list(self, state):
        return [self._att_row(r) for r in self._db.execute("SELECT * FROM attachments WHERE state = ? ORDER BY sha",
                                                           (state,))]
