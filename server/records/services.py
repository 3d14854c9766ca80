"""Writing records: create and update with full history, field-level merge of stale edits, kept conflicts.

Content fields belong to the tablet; workflow fields (status, comments) belong to the server and are never set here
from a device. Every successful write bumps the version, adds a RecordChange and appends to the change log.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from marshmallow import ValidationError
from sqlalchemy import or_, select

from ..accounts.scope import Scope
from ..errors import Conflict, Forbidden, Unprocessable
from ..extensions import db
from ..geo.grid_index import GridInfo, grid_info
from ..sync.changelog import log_change
from .categories import Category, catalogue
from .models import Record, RecordChange, RecordConflict
from .attachments_link import link_attachments


class RetryLater(Unprocessable):
    """The mutation depends on one the server has not seen yet (e.g. an update before its create)."""

    code = "retry_later"
    retryable = True


@dataclass(frozen=True)
class Actor:
    user_id: int
    device_id: int | None = None


@dataclass
class WriteOutcome:
    record: Record
    status: str  # applied | conflict
    merged: bool = False
    conflicts: list[dict] = field(default_factory=list)


def _category(key: str | None) -> Category:
    category = catalogue().get(key or "")
    if category is None:
        known = ", ".join(catalogue().categories)
        raise Unprocessable(f"Unknown category {key!r}.", {"category": [f"must be one of {known}"]})
    return category


def _grid(code: str | None, scope: Scope) -> GridInfo:
    info = grid_info(code or "")
    if info is None:
        raise Unprocessable(f"No active grid has the code {code!r}.", {"grid_code": ["unknown grid"]})
    if not scope.allows_grid(info.code):
        raise Forbidden(f"The grid {info.code} is outside your grids.", {"grid_code": ["outside your scope"]})
    return info


def _load(category: Category, values: object, partial: bool) -> dict:
    try:
        return category.load(values, partial=partial)
    except ValidationError as error:
        raise Unprocessable("Some fields are invalid.", {"fields": error.messages}) from error


def _place(record: Record, info: GridInfo) -> None:
    record.grid_id, record.grid_code = info.id, info.code
    record.community_code, record.street_code, record.district_code = (
        info.community_code, info.street_code, info.district_code)


def _routing(record: Record, category: Category) -> None:
    """Copy routing metadata (location when not confidential, urgency) into plain columns."""
    location = record.content.get("location") or {}
    record.lon, record.lat = location.get("lon"), location.get("lat")
    record.urgency = record.content.get("urgency")


def _diff(old: dict, new: dict) -> dict:
    return {key: {"old": old.get(key), "new": value} for key, value in new.items() if old.get(key) != value}


def create_record(*, record_id: str, category_key: str, grid_code: str, values: object, occurred_at: datetime,
                  occurred_at_server_est: datetime | None, actor: Actor, scope: Scope,
                  mutation_id: str | None = None) -> WriteOutcome:
    category = _category(category_key)
    info = _grid(grid_code, scope)
    if db.session.get(Record, record_id) is not None:
        raise Conflict(f"A record with id {record_id} already exists.", {"record_id": ["already exists"]})
    loaded = _load(category, values, partial=False)
    ordinary, secret = category.split(loaded)
    now = datetime.now(timezone.utc)
    record = Record(id=record_id, category=category.key, status="reported", version=1, content=ordinary,
                    confidential=secret if category.confidential else None, occurred_at=occurred_at,
                    occurred_at_server_est=occurred_at_server_est, received_at=now, updated_at=now,
                    created_by_id=actor.user_id, device_id=actor.device_id, open_conflicts=0)
    _place(record, info)
    _routing(record, category)
    db.session.add(record)
    db.session.add(RecordChange(record_id=record_id, version=1, kind="create", at=now, actor_id=actor.user_id,
                                device_id=actor.device_id, mutation_id=mutation_id, changes=_diff({}, ordinary),
                                confidential_changes=_diff({}, secret) if secret else None))
    link_attachments(record_id, category.attachments(loaded))
    log_change(record, actor.device_id)
    return WriteOutcome(record, "applied")


def _fields_changed_since(record_id: str, base_version: int, device_id: int | None) -> set[str]:
    """Fields others changed after `base_version`. A device's own later edits are not news to it: the tablet
    made them in order on top of each other, so they never conflict with its next edit."""
    query = select(RecordChange.changes, RecordChange.confidential_changes).where(
        RecordChange.record_id == record_id, RecordChange.version > base_version)
    if device_id is not None:
        query = query.where(or_(RecordChange.device_id.is_(None), RecordChange.device_id != device_id))
    rows = db.session.execute(query).all()
    return {key for changes, secret in rows for key in (*changes, *(secret or {}))}


def update_record(*, record_id: str, base_version: int, values: object, actor: Actor, scope: Scope,
                  grid_code: str | None = None, mutation_id: str | None = None) -> WriteOutcome:
    record = db.session.get(Record, record_id)
    if record is None:
        raise RetryLater(f"Record {record_id} is not on the server yet.", {"record_id": ["unknown record"]})
    if not scope.allows_grid(record.grid_code):
        raise Forbidden(f"Record {record_id} is outside your grids.", {"record_id": ["outside your scope"]})
    category = _category(record.category)
    if category.confidential:
        raise Unprocessable("Confidential records cannot be edited after upload; file a new one.",
                            {"record_id": ["confidential records are read-only once uploaded"]})
    if base_version > record.version:
        raise RetryLater(f"base_version {base_version} is ahead of the server's version {record.version}.",
                         {"base_version": [f"ahead of the server's version {record.version}"]})
    loaded = _load(category, values, partial=True)
    new_info = _grid(grid_code, scope) if grid_code and grid_code != record.grid_code else None

    changes = _diff(record.content, loaded)
    if new_info is not None:
        changes["grid_code"] = {"old": record.grid_code, "new": new_info.code}
    if not changes:
        return WriteOutcome(record, "applied")  # nothing new: no version, no history entry

    changed_since = _fields_changed_since(record.id, base_version, actor.device_id) if base_version < record.version else set()
    overlapping = sorted(key for key in changes if key in changed_since)
    kind = "conflict" if overlapping else ("merge" if changed_since else "update")
    if record.status == "returned":  # a correction sent back from the field goes back into review
        changes["status"] = {"old": "returned", "new": "reported"}
        record.status, kind = "reported", ("conflict" if overlapping else "resubmit")

    now = datetime.now(timezone.utc)
    record.version += 1
    record.content = {**record.content, **loaded}
    if new_info is not None:
        _place(record, new_info)
    _routing(record, category)
    record.updated_at = now
    conflicts = []
    for key in overlapping:
        conflict = {"field": key, "server_value": changes[key]["old"], "device_value": changes[key]["new"]}
        conflicts.append(conflict)
        db.session.add(RecordConflict(record_id=record.id, base_version=base_version, version=record.version,
                                      mutation_id=mutation_id, device_id=actor.device_id, created_at=now,
                                      **conflict))
    record.open_conflicts += len(conflicts)
    db.session.add(RecordChange(record_id=record.id, version=record.version, kind=kind, at=now,
                                actor_id=actor.user_id, device_id=actor.device_id, mutation_id=mutation_id,
                                changes=changes))
    link_attachments(record.id, category.attachments(loaded))
    log_change(record, actor.device_id)
    return WriteOutcome(record, "conflict" if conflicts else "applied", merged=bool(changed_since), conflicts=conflicts)
