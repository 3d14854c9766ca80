"""Building sync mutations the way a tablet does, for the sync tests and benchmarks."""
from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timezone

import uuid6
from factories import FIRST_GRID

_seq = itertools.count(1)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def mediation_fields(summary: str = "楼上噪音扰民", **extra) -> dict:
    return {"dispute_type": "neighbour", "parties": [{"name": "张三", "role": "applicant", "phone": "13800000000"},
                                                     {"name": "李四", "role": "respondent"}],
            "summary": summary, "outcome": "in_progress", **extra}


def mutation_id() -> str:
    """Time-ordered, as the tablet makes them (field_app/core/outbox.py)."""
    return str(uuid6.uuid7())


def create(record_id: str | None = None, category: str = "mediation", grid_code: str = FIRST_GRID,
           fields: dict | None = None, **extra) -> dict:
    return {"mutation_id": mutation_id(), "seq": next(_seq), "record_id": record_id or str(uuid.uuid4()),
            "op": "create", "category": category, "grid_code": grid_code, "device_time": now_iso(),
            "fields": fields if fields is not None else mediation_fields(), **extra}


def update(record_id: str, base_version: int, fields: dict, **extra) -> dict:
    return {"mutation_id": mutation_id(), "seq": next(_seq), "record_id": record_id, "op": "update",
            "base_version": base_version, "device_time": now_iso(), "fields": fields, **extra}


def integrity_fields() -> dict:
    return {"urgency": "urgent", "subject_kind": "community_cadre", "subject": "某社区主任",
            "concern_type": "benefit_favouritism", "description": "为亲属违规办理低保", "source": "resident_report"}


def push(client, token: str, mutations: list, **envelope):
    from factories import auth

    return client.post("/api/v1/sync/push", json={"mutations": mutations, **envelope}, headers=auth(token))


def stored_receipts(app, mutation_ids) -> list[str]:
    """The stored acknowledgements of these mutations, one entry per stored row (so a copy shows twice): an update's
    in sync_mutations, a create's on its record's first version (server/sync/services.py)."""
    from sqlalchemy import select

    from server.extensions import db
    from server.records.models import RecordChange
    from server.sync.models import Mutation

    ids = list(mutation_ids)
    with app.app_context():
        updates = db.session.scalars(select(Mutation.mutation_id).where(Mutation.mutation_id.in_(ids))).all()
        creates = db.session.scalars(select(RecordChange.mutation_id).where(
            RecordChange.mutation_id.in_(ids), RecordChange.body_sha256.is_not(None))).all()
        return [*updates, *creates]
