"""The sync protocol: push applies mutations exactly once; pull replays the change log after a cursor.

Push runs in one transaction under the change-log write lock: each mutation in its own savepoint, so a bad one is
rolled back alone and answered `rejected`, while a server killed mid-push loses the whole batch or nothing (the
tablet keeps its outbox until acknowledged and retries). Acknowledged mutations are stored with their answer, so a
retry gets the same answer back as `duplicate`.
"""
from __future__ import annotations

import hashlib
import json

from marshmallow import ValidationError
from sqlalchemy import false, or_, select, true
from sqlalchemy.exc import IntegrityError

from ..accounts.auth import Principal
from ..devices.services import record_health
from ..errors import ServiceError
from ..extensions import db
from ..geo.revision import current_revision
from ..records.categories import catalogue
from ..records.models import Record, RecordConflict
from ..records.services import Actor, create_record, update_record
from ..timeutil import iso, utcnow
from . import cursor as cursors
from .changelog import lock_for_writing
from .models import ChangeLogEntry, Mutation
from .schemas import MutationSchema

_mutation_schema = MutationSchema()


def server_time() -> str:
    return iso(utcnow())


def body_hash(raw: object) -> str:
    """Key order and whitespace do not matter; any other difference in the body does."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _rejected(raw: object, errors: dict, message: str, retry: bool = False) -> dict:
    raw = raw if isinstance(raw, dict) else {}
    return {"mutation_id": raw.get("mutation_id"), "record_id": raw.get("record_id"), "status": "rejected",
            "message": message, "errors": errors, "retry": retry}


def push(principal: Principal, envelope: dict) -> dict:
    lock_for_writing()  # before any read, so idempotency checks see every committed mutation
    device = principal.device
    actor = Actor(user_id=principal.user.id, device_id=device.id)
    scope = principal.scope
    ids = [raw.get("mutation_id") for raw in envelope["mutations"] if isinstance(raw, dict)]
    known = {row.mutation_id: row for row in db.session.scalars(
        select(Mutation).where(Mutation.mutation_id.in_([i for i in ids if isinstance(i, str)])))}
    results = [_apply(raw, known, actor, scope) for raw in envelope["mutations"]]
    record_health(device, envelope.get("health") or {}, envelope.get("device_time"))
    db.session.commit()
    return {"server_time": server_time(), "results": results}


def _apply(raw: object, known: dict[str, Mutation], actor: Actor, scope) -> dict:
    try:
        mutation = _mutation_schema.load(raw)
    except ValidationError as error:
        return _rejected(raw, error.messages, "The mutation is malformed.")
    mutation_id, record_id = str(mutation["mutation_id"]), str(mutation["record_id"])
    digest = body_hash(raw)
    prior = known.get(mutation_id)
    if prior is not None:
        return _duplicate(prior, raw, digest, actor)

    savepoint = db.session.begin_nested()
    try:
        outcome = _write(mutation, mutation_id, record_id, actor, scope)
        result = {"mutation_id": mutation_id, "record_id": record_id, "status": outcome.status,
                  "version": outcome.record.version}
        if outcome.merged:
            result["merged"] = True
        if outcome.conflicts:
            result["conflicts"] = outcome.conflicts
        row = Mutation(mutation_id=mutation_id, device_id=actor.device_id, user_id=actor.user_id,
                       seq=mutation["seq"], record_id=record_id, op=mutation["op"], body_sha256=digest,
                       status=outcome.status, result=result)
        db.session.add(row)
        db.session.flush()
        savepoint.commit()
    except ServiceError as error:
        savepoint.rollback()
        return _rejected(raw, error.errors or {"_": [error.message]}, error.message,
                         retry=getattr(error, "retryable", False))
    except IntegrityError:
        # Only reachable if another writer slipped past the lock; the unique mutation_id is the last guard.
        savepoint.rollback()
        prior = db.session.scalar(select(Mutation).where(Mutation.mutation_id == mutation_id))
        if prior is None:
            raise
        return _duplicate(prior, raw, digest, actor)
    known[mutation_id] = row
    return result


def _duplicate(prior: Mutation, raw: object, digest: str, actor: Actor) -> dict:
    if prior.body_sha256 != digest or prior.device_id != actor.device_id:
        return _rejected(raw, {"mutation_id": ["already used for a different mutation"]},
                         "This mutation_id was already used with a different body.")
    return {**prior.result, "status": "duplicate", "original_status": prior.status}


def _write(mutation: dict, mutation_id: str, record_id: str, actor: Actor, scope):
    if mutation["op"] == "create":
        return create_record(record_id=record_id, category_key=mutation["category"],
                             grid_code=mutation["grid_code"], values=mutation["fields"],
                             occurred_at=mutation["device_time"],
                             occurred_at_server_est=mutation.get("server_time_est"),
                             actor=actor, scope=scope, mutation_id=mutation_id)
    return update_record(record_id=record_id, base_version=mutation["base_version"], values=mutation["fields"],
                         actor=actor, scope=scope, grid_code=mutation.get("grid_code"), mutation_id=mutation_id)


# --- pull -------------------------------------------------------------------------------------------------------

def _scope_condition(scope):
    if scope.is_city:
        return true()
    exact = [code for code in scope.codes if len(code) == 15]
    prefixes = [code for code in scope.codes if len(code) < 15]
    conditions = ([ChangeLogEntry.grid_code.in_(exact)] if exact else []) + [
        ChangeLogEntry.grid_code.startswith(code) for code in prefixes]
    return or_(*conditions) if conditions else false()


def tablet_snapshot(record: Record, conflicts: list[RecordConflict]) -> dict:
    """What the tablet needs to know about a record; confidential records come back as a bare receipt."""
    snapshot = {"id": record.id, "category": record.category, "grid_code": record.grid_code,
                "version": record.version, "status": record.status, "status_comment": record.status_comment,
                "updated_at": iso(record.updated_at)}
    if catalogue().get(record.category) and catalogue().get(record.category).confidential:
        return {**snapshot, "receipt": True}
    snapshot["fields"] = record.content
    snapshot["conflicts"] = [{"field": c.field, "server_value": c.server_value, "device_value": c.device_value,
                              "version": c.version} for c in conflicts]
    return snapshot


def pull(principal: Principal, cursor: str | None, limit: int) -> dict:
    after = cursors.decode(cursor)
    entries = list(db.session.execute(
        select(ChangeLogEntry.id, ChangeLogEntry.record_id)
        .where(ChangeLogEntry.id > after, _scope_condition(principal.scope))
        .order_by(ChangeLogEntry.id).limit(limit + 1)
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
