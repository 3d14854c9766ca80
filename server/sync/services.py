"""The sync protocol: push applies mutations exactly once; pull replays the change log (the records' history, in
commit order) after a cursor.

Push runs in one transaction under the change-log write lock: each mutation in its own savepoint, so a bad one is
rolled back alone and answered `rejected`, while a server killed mid-push loses the whole batch or nothing (the
tablet keeps its outbox until acknowledged and retries). Acknowledged mutations are stored, so a retry gets the same
answer back as `duplicate`: an update with its answer in sync_mutations, a create as its record's first version
(which keeps the mutation's id, seq and body hash).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from marshmallow import ValidationError
from sqlalchemy import String, any_, bindparam, false, func, literal, null, or_, select, true, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from ..accounts.auth import Principal
from ..bulk import insert_tuples
from ..devices.services import record_health
from ..errors import ServiceError
from ..extensions import db
from ..geo.revision import current_revision
from .. import jsontext
from ..jsontext import canonical
from ..records.categories import catalogue
from ..records.models import Record, RecordChange, RecordConflict
from ..records.services import (Actor, GridChecks, PreparedCreate, existing_record_ids, insert_prepared,
                                prepare_create, update_record)
from ..timeutil import iso, utcnow
from . import cursor as cursors
from .changelog import lock_for_writing
from .models import Mutation
from .schemas import load_mutation

log = logging.getLogger(__name__)


def server_time() -> str:
    return iso(utcnow())


def body_hash(raw: object) -> str:
    """Key order and whitespace do not matter; any other difference in the body does."""
    return hashlib.sha256(canonical(raw)).hexdigest()


def _rejected(raw: object, errors: dict, message: str, retry: bool = False) -> dict:
    raw = raw if isinstance(raw, dict) else {}
    return {"mutation_id": raw.get("mutation_id"), "record_id": raw.get("record_id"), "status": "rejected",
            "message": message, "errors": errors, "retry": retry}


class Acknowledged(NamedTuple):
    """What idempotency needs to know of a stored mutation (a Mutation row, or one written in this batch).
    A named tuple: one is made for every mutation a push applies, and a frozen dataclass costs a microsecond."""

    device_id: int
    body_sha256: str
    status: str
    result: dict

    @classmethod
    def of(cls, item: Item, actor: Actor) -> Acknowledged:
        """What a mutation answered in this batch leaves for the rest of the batch to compare against."""
        return cls(actor.device_id, item.digest, item.result["status"], item.result)


def _acknowledgements(among) -> object:
    """Acknowledgements of the mutation ids that `among(column)` selects: an update's (and a create's stored before
    migration 0007) in sync_mutations; a create's is its first version, which carries the body hash. Both tables
    are written only under the write lock, where the push looks in both before storing, so a mutation id is
    acknowledged once across the two; each table's own unique index refuses a second copy in it."""
    return union_all(
        select(Mutation.mutation_id, Mutation.device_id, Mutation.body_sha256, Mutation.status, Mutation.result,
               Mutation.record_id).where(among(Mutation.mutation_id)),
        select(RecordChange.mutation_id, RecordChange.device_id, RecordChange.body_sha256, literal("applied"),
               null(), RecordChange.record_id).where(among(RecordChange.mutation_id),
                                                     RecordChange.body_sha256.is_not(None)))


# Built once, so SQLAlchemy reuses their compiled form. The ids go in as one parameter (a JSON array on SQLite, an
# array on PostgreSQL), not as 500 bound values in each half of the union.
_ACKNOWLEDGED = {
    "sqlite": _acknowledgements(lambda column: column.in_(
        select(func.json_each(bindparam("ids")).table_valued("value").c.value))),
    "postgresql": _acknowledgements(lambda column: column == any_(bindparam("ids", type_=ARRAY(String(36))))),
}
_WATERMARK = select(select(func.max(Mutation.id)).scalar_subquery(),
                    select(func.max(RecordChange.id)).scalar_subquery())


def _acknowledged(mutation_ids: set[str]) -> dict[str, Acknowledged]:
    if not mutation_ids:
        return {}
    connection = db.session.connection()
    dialect = connection.dialect.name
    ids = jsontext.dumps(list(mutation_ids)) if dialect == "sqlite" else list(mutation_ids)
    rows = connection.execute(_ACKNOWLEDGED[dialect], {"ids": ids})
    return {row.mutation_id: Acknowledged(row.device_id, row.body_sha256, row.status,
                                          row.result or _plain_create_answer(row.mutation_id, row.record_id))
            for row in rows}


def warm_up() -> None:
    """Run the push's own lookups once, reading nothing, so that SQLAlchemy has compiled them before the first push
    (server/warmup.py)."""
    _watermark()
    _acknowledged({"00000000-0000-0000-0000-000000000000"})


def _plain_create_answer(mutation_id: str, record_id: str) -> dict:
    """The answer of every stored create, rebuilt from its first version (or, before migration 0007, from its
    sync_mutations row, where it was stored as a JSON null)."""
    return {"mutation_id": mutation_id, "record_id": record_id, "status": "applied", "version": 1}


@dataclass(slots=True)
class Item:
    """One mutation of a push on its way through: validated envelope, hash, and (for a create) prepared rows."""

    raw: object
    mutation: dict | None = None
    digest: str = ""
    prepared: PreparedCreate | None = None
    result: dict | None = None  # set once the item is answered
    mutation_id: str = ""  # mutation["mutation_id"], once the envelope is valid


def push(principal: Principal, envelope: dict, refused: dict[int, dict] | None = None) -> dict:
    """Phase 1 validates everything that needs no database, outside the write lock, so that concurrent pushes
    overlap their CPU work; phase 2 takes the lock and writes (creates in bulk, updates one by one, in order)."""
    actor, scope = Actor(user_id=principal.user.id, device_id=principal.device.id), principal.scope
    grids, received_at = GridChecks(scope, current_revision()), utcnow()
    before = _watermark()  # read first: whatever commits after it shows up as a higher id
    # Acknowledged mutations never change, so a retry's duplicates can be recognised before the lock and skip the
    # expensive field validation; the check is repeated under the lock if anything was committed meanwhile.
    raw_ids = (raw.get("mutation_id") for raw in envelope["mutations"] if isinstance(raw, dict))
    seen_before = _acknowledged({i for i in raw_ids if isinstance(i, str)})  # not yet validated: any JSON value
    refused = refused or {}  # index -> errors: items judged bad before parsing (text with NUL characters)
    items = [Item(raw, result=_rejected(raw, refused[index], "Text must not contain NUL characters."))
             if index in refused else _prepare(raw, actor, scope, grids, seen_before, received_at)
             for index, raw in enumerate(envelope["mutations"])]
    valid = [item for item in items if item.result is None]
    db.session.commit()  # end the read transaction before queueing for the write lock

    lock_for_writing()  # before any read, so idempotency checks see every committed mutation
    # Repeat the duplicate lookup only if another push or edit committed since the one above.
    known = _acknowledged({item.mutation_id for item in valid}) if _watermark() != before else {}
    try:
        # Record ids are not looked up first: the tablets' UUIDs do not collide, and a create whose id is taken
        # fails the records' primary key, which sends the batch down the careful path below to find it.
        _write(valid, actor, scope, known, set(), careful=False)
    except IntegrityError:
        # Start the transaction again, this time with every id looked up and a savepoint around every write, so
        # that only the culprits fail.
        db.session.rollback()
        lock_for_writing()
        known = _acknowledged({item.mutation_id for item in valid})
        taken = existing_record_ids([item.prepared.record_id for item in valid if item.prepared])
        _write(valid, actor, scope, known, taken, careful=True)
    record_health(actor.device_id, envelope.get("health") or {}, envelope.get("device_time"))
    db.session.commit()
    return {"server_time": server_time(), "results": [item.result for item in items]}


def _watermark() -> tuple:
    """The newest acknowledged update and history entry (every create writes one). Both are appended only under the
    write lock, so ids grow in commit order: an unchanged watermark means nothing was committed in between."""
    return tuple(db.session.connection().execute(_WATERMARK).one())


def _write(valid: list[Item], actor: Actor, scope, known: dict[str, Acknowledged], taken: set[str],
           careful: bool) -> None:
    """Answer and store the valid items, under the write lock. `careful` puts every write in a savepoint (the
    retry after an unexpected database error); otherwise creates go in with one plain insert per table."""
    pending: list[Item] = []
    for item in valid:
        item.result = None  # a careful retry answers everything again
        prior = known.get(item.mutation_id)
        if prior is not None:
            item.result = _duplicate(prior, item.raw, item.digest, actor)
        elif item.prepared is not None:
            if item.prepared.record_id in taken:
                item.result = _rejected(item.raw, {"record_id": ["already exists"]},
                                        f"A record with id {item.prepared.record_id} already exists.")
                continue
            taken.add(item.prepared.record_id)
            item.result = _answer(item, "applied", 1)
            known[item.mutation_id] = Acknowledged.of(item, actor)
            pending.append(item)
        else:
            _forget(_insert_creates(pending, careful), known, taken)  # an update may need an earlier create
            pending = []
            _update(item, actor, scope, known)
    _forget(_insert_creates(pending, careful), known, taken)


def _forget(failed: list[Item], known: dict[str, Acknowledged], taken: set[str]) -> None:
    """Creates that could not be stored: a copy later in the batch is neither a duplicate nor a taken id."""
    for item in failed:
        del known[item.mutation_id]
        taken.discard(item.prepared.record_id)


def _prepare(raw: object, actor: Actor, scope, grids: GridChecks, seen_before: dict[str, Acknowledged],
             received_at: datetime) -> Item:
    item = Item(raw)
    try:
        item.mutation = load_mutation(raw)
    except ValidationError as error:
        item.result = _rejected(raw, error.messages, "The mutation is malformed.")
        return item
    item.mutation_id = item.mutation["mutation_id"]
    item.digest = body_hash(raw)
    if item.mutation_id in seen_before:
        item.result = _duplicate(seen_before[item.mutation_id], raw, item.digest, actor)
        return item
    if item.mutation["op"] == "create":
        mutation = item.mutation
        try:
            item.prepared = prepare_create(
                record_id=mutation["record_id"], category_key=mutation["category"], grid_code=mutation["grid_code"],
                values=mutation["fields"], occurred_at=mutation["device_time"],
                occurred_at_server_est=mutation.get("server_time_est"), actor=actor, scope=scope,
                mutation_id=mutation["mutation_id"], seq=mutation["seq"], body_sha256=item.digest, grids=grids,
                received_at=received_at)
        except ServiceError as error:
            item.result = _rejected(raw, error.errors or {"_": [error.message]}, error.message)
    return item


def _answer(item: Item, status: str, version: int, outcome=None) -> dict:
    result = {"mutation_id": item.mutation_id, "record_id": item.mutation["record_id"], "status": status,
              "version": version}
    if outcome is not None and outcome.merged:
        result["merged"] = True
    if outcome is not None and outcome.conflicts:
        result["conflicts"] = outcome.conflicts
    return result


def _insert_creates(pending: list[Item], careful: bool) -> list[Item]:
    """Store answered creates; returns those that failed (only in careful mode: otherwise the error propagates).
    A create needs no sync_mutations row: the first version of its record is its acknowledgement."""
    if not careful:
        insert_prepared([item.prepared for item in pending])
        return []
    failed = []
    for item in pending:
        savepoint = db.session.begin_nested()
        try:
            insert_prepared([item.prepared])
            savepoint.commit()
        except IntegrityError:
            savepoint.rollback()
            log.exception("mutation %s could not be stored", item.mutation_id)
            failed.append(item)
            item.result = _rejected(item.raw, {"_": ["could not be stored; send it again later"]},
                                    "The server could not store this mutation; send it again later.", retry=True)
    return failed


MUTATION_COLUMNS = ("mutation_id", "device_id", "user_id", "seq", "record_id", "op", "body_sha256", "status",
                    "result", "received_at")


def _mutation_values(item: Item, actor: Actor, received_at: datetime) -> tuple:
    """The stored acknowledgement of an applied update (its answer is sent again for a retry): MUTATION_COLUMNS."""
    mutation = item.mutation
    return (mutation["mutation_id"], actor.device_id, actor.user_id, mutation["seq"], mutation["record_id"],
            mutation["op"], item.digest, item.result["status"], item.result, received_at)


def _update(item: Item, actor: Actor, scope, known: dict[str, Acknowledged]) -> None:
    mutation = item.mutation
    savepoint = db.session.begin_nested()
    try:
        outcome = update_record(record_id=mutation["record_id"], base_version=mutation["base_version"],
                                values=mutation["fields"], actor=actor, scope=scope,
                                grid_code=mutation.get("grid_code"), mutation_id=item.mutation_id)
        item.result = _answer(item, outcome.status, outcome.record.version, outcome)
        insert_tuples(Mutation.__table__, MUTATION_COLUMNS, [_mutation_values(item, actor, utcnow())])
        savepoint.commit()
    except ServiceError as error:
        savepoint.rollback()
        item.result = _rejected(item.raw, error.errors or {"_": [error.message]}, error.message,
                                retry=getattr(error, "retryable", False))
        return
    known[item.mutation_id] = Acknowledged.of(item, actor)


def _duplicate(prior: Acknowledged, raw: object, digest: str, actor: Actor) -> dict:
    if prior.body_sha256 != digest or prior.device_id != actor.device_id:
        return _rejected(raw, {"mutation_id": ["already used for a different mutation"]},
                         "This mutation_id was already used with a different body.")
    return {**prior.result, "status": "duplicate", "original_status": prior.status}


# --- pull -------------------------------------------------------------------------------------------------------

def _scope_condition(scope):
    if scope.is_city:
        return true()
    exact = [code for code in scope.codes if len(code) == 15]
    prefixes = [code for code in scope.codes if len(code) < 15]
    conditions = ([RecordChange.grid_code.in_(exact)] if exact else []) + [
        RecordChange.grid_code.startswith(code) for code in prefixes]
    return or_(*conditions) if conditions else false()


def tablet_snapshot(record: Record, conflicts: list[RecordConflict]) -> dict:
    """What the tablet needs to know about a record; confidential records come back as a bare receipt."""
    snapshot = {"id": record.id, "category": record.category, "grid_code": record.grid_code,
                "version": record.version, "status": record.status, "status_comment": record.status_comment,
                "updated_at": iso(record.updated_at)}
    if catalogue().is_confidential(record.category):
        return {**snapshot, "receipt": True}
    snapshot["fields"] = record.content
    snapshot["conflicts"] = [{"field": c.field, "server_value": c.server_value, "device_value": c.device_value,
                              "version": c.version} for c in conflicts]
    return snapshot


def pull(principal: Principal, cursor: str | None, limit: int) -> dict:
    after = cursors.decode(cursor)
    entries = list(db.session.execute(
        select(RecordChange.id, RecordChange.record_id)
        .where(RecordChange.id > after, _scope_condition(principal.scope))
        .order_by(RecordChange.id).limit(limit + 1)
    ))
    has_more = len(entries) > limit
    entries = entries[:limit]
    # One snapshot per record, placed at its last change in this page (the snapshot is current anyway).
    last_position = {entry.record_id: entry.id for entry in entries}
    record_ids = list(last_position)
    records = {r.id: r for r in db.session.scalars(select(Record).where(Record.id.in_(record_ids)))}
    open_conflicts: dict[str, list[RecordConflict]] = {}
    for conflict in db.session.scalars(select(RecordConflict).where(
            RecordConflict.record_id.in_([rid for rid, r in records.items() if r.open_conflicts]),
            RecordConflict.resolved_at.is_(None)).order_by(RecordConflict.id)):
        open_conflicts.setdefault(conflict.record_id, []).append(conflict)
    changes = [
        {"cursor": cursors.encode(position), "record": tablet_snapshot(records[rid], open_conflicts.get(rid, []))}
        for rid, position in sorted(last_position.items(), key=lambda item: item[1])
    ]
    return {"server_time": server_time(), "changes": changes,
            "cursor": cursors.encode(entries[-1].id if entries else after), "has_more": has_more,
            "categories_version": catalogue().version, "grids_revision": current_revision()}
