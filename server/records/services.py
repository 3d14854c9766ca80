"""Writing records: create and update with full history, field-level merge of stale edits, kept conflicts.

Content fields belong to the tablet; workflow fields (status, comments) belong to the server and are never set here
from a device. Every successful write bumps the version and adds a RecordChange, which is also the change log.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from marshmallow import ValidationError
from sqlalchemy import or_, select

from ..accounts.scope import Scope
from ..bulk import insert_tuples
from ..errors import Conflict, Forbidden, Unprocessable
from ..extensions import db
from ..geo.grid_index import GridInfo, grid_info
from ..attachments.models import RecordAttachment
from ..attachments.services import link_record
from ..sync.changelog import lock_for_writing
from .categories import Category, catalogue
from .models import Record, RecordChange, RecordConflict


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


def _grid(code: str | None, scope: Scope, revision: str | None = None) -> GridInfo:
    info = grid_info(code or "", revision)
    if info is None:
        raise Unprocessable(f"No active grid has the code {code!r}.", {"grid_code": ["unknown grid"]})
    if not scope.allows_grid(info.code):
        raise Forbidden(f"The grid {info.code} is outside your grids.", {"grid_code": ["outside your scope"]})
    return info


class GridChecks:
    """`_grid` for the many records of one push: each grid code looked up and scope-checked once."""

    def __init__(self, scope: Scope, revision: str | None = None):
        self.scope, self.revision = scope, revision
        self._passed: dict[str, GridInfo] = {}

    def __call__(self, code: str | None) -> GridInfo:
        info = self._passed.get(code)
        if info is None:
            info = self._passed[code] = _grid(code, self.scope, self.revision)  # a refusal raises, uncached
        return info


def _load(category: Category, values: object, partial: bool) -> dict:
    try:
        return category.load(values, partial=partial)
    except ValidationError as error:
        raise Unprocessable("Some fields are invalid.", {"fields": error.messages}) from error


PLACEMENT = ("grid_id", "grid_code", "community_code", "street_code", "district_code")
ROUTING = ("urgency", "lon", "lat")


def _placement_values(info: GridInfo) -> tuple:
    """The grid and its hierarchy codes (PLACEMENT), copied onto the record for plain indexed scope filters."""
    return info.id, info.code, info.community_code, info.street_code, info.district_code


def _placement(info: GridInfo) -> dict:
    return dict(zip(PLACEMENT, _placement_values(info)))


def _routing_values(content: dict) -> tuple:
    """Routing metadata in plain columns (ROUTING): urgency, and the location when it is not confidential (i.e.
    when it is in content)."""
    location = content.get("location") or {}
    return content.get("urgency"), location.get("lon"), location.get("lat")


def _routing(content: dict) -> dict:
    return dict(zip(ROUTING, _routing_values(content)))


def _set(record: Record, values: dict) -> None:
    for key, value in values.items():
        setattr(record, key, value)


def _diff(old: dict, new: dict) -> dict:
    return {key: {"old": old.get(key), "new": value} for key, value in new.items() if old.get(key) != value}


# The columns of a new record and of its first history entry, in the order PreparedCreate holds their values.
RECORD_COLUMNS = ("id", "category", *PLACEMENT, *ROUTING, "content", "confidential", "occurred_at",
                  "occurred_at_server_est", "status", "status_comment", "version", "received_at", "updated_at",
                  "created_by_id", "device_id", "open_conflicts")
CHANGE_COLUMNS = ("record_id", "grid_code", "mutation_id", "seq", "body_sha256", "changes", "confidential_changes",
                  "version", "kind", "at", "actor_id", "device_id", "comment")


@dataclass(slots=True)
class PreparedCreate:
    """A create that passed every check that needs no database: rows ready for one bulk insert, as tuples (a push
    builds 500 of them; dicts cost more to make and to take apart again)."""

    record_id: str
    record: tuple  # values of RECORD_COLUMNS
    change: tuple  # values of CHANGE_COLUMNS
    attachments: list[str]


def prepare_create(*, record_id: str, category_key: str, grid_code: str, values: object, occurred_at: datetime,
                   occurred_at_server_est: datetime | None, actor: Actor, scope: Scope,
                   mutation_id: str | None = None, seq: int | None = None, body_sha256: str | None = None,
                   grids: GridChecks | None = None, received_at: datetime | None = None) -> PreparedCreate:
    """Validate a new record without touching the database (so it can run outside the write lock).
    A push passes its mutation's id, seq and body hash (the first version is its acknowledgement), its GridChecks,
    and its own arrival time as `received_at` (the default is now)."""
    category = _category(category_key)
    info = (grids or GridChecks(scope))(grid_code)
    loaded = _load(category, values, partial=False)
    ordinary, secret = category.split(loaded)
    now = received_at or datetime.now(timezone.utc)
    record = (record_id, category.key, *_placement_values(info), *_routing_values(ordinary), ordinary,
              secret if category.confidential else None, occurred_at, occurred_at_server_est, "reported", None, 1,
              now, now, actor.user_id, actor.device_id, 0)
    change = (record_id, info.code, mutation_id, seq, body_sha256, _diff({}, ordinary),
              _diff({}, secret) if secret else None, 1, "create", now, actor.user_id, actor.device_id, None)
    return PreparedCreate(record_id, record, change, list(dict.fromkeys(category.attachments(loaded))))


def existing_record_ids(record_ids: list[str]) -> set[str]:
    if not record_ids:
        return set()
    return set(db.session.scalars(select(Record.id).where(Record.id.in_(record_ids))))


def insert_prepared(prepared: list[PreparedCreate]) -> None:
    """Write prepared creates with one bulk insert per table (records, history (the change log), photo links)."""
    if not prepared:
        return
    lock_for_writing()
    insert_tuples(Record.__table__, RECORD_COLUMNS, [p.record for p in prepared])
    insert_tuples(RecordChange.__table__, CHANGE_COLUMNS, [p.change for p in prepared])
    insert_tuples(RecordAttachment.__table__, ("record_id", "sha256"),
                  [(p.record_id, sha) for p in prepared for sha in p.attachments])


def create_record(**kwargs) -> WriteOutcome:
    """Create one record (the web and CLI path; sync batches use prepare_create + insert_prepared)."""
    prepared = prepare_create(**kwargs)
    if existing_record_ids([prepared.record_id]):
        raise Conflict(f"A record with id {prepared.record_id} already exists.", {"record_id": ["already exists"]})
    insert_prepared([prepared])
    return WriteOutcome(db.session.get(Record, prepared.record_id), "applied")


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

    stale = base_version < record.version
    changed_since = _fields_changed_since(record.id, base_version, actor.device_id) if stale else set()
    overlapping = sorted(key for key in changes if key in changed_since)
    kind = "conflict" if overlapping else ("merge" if changed_since else "update")
    if record.status == "returned":  # a correction sent back from the field goes back into review
        changes["status"] = {"old": "returned", "new": "reported"}
        record.status, kind = "reported", ("conflict" if overlapping else "resubmit")

    now = datetime.now(timezone.utc)
    record.version += 1
    record.content = {**record.content, **loaded}
    if new_info is not None:
        _set(record, _placement(new_info))
    _set(record, _routing(record.content))
    record.updated_at = now
    conflicts = []
    for key in overlapping:
        conflict = {"field": key, "server_value": changes[key]["old"], "device_value": changes[key]["new"]}
        conflicts.append(conflict)
        db.session.add(RecordConflict(record_id=record.id, base_version=base_version, version=record.version,
                                      mutation_id=mutation_id, device_id=actor.device_id, created_at=now,
                                      **conflict))
    record.open_conflicts += len(conflicts)
    lock_for_writing()  # the history entry is the change log: its id must follow commit order
    db.session.add(RecordChange(record_id=record.id, version=record.version, grid_code=record.grid_code, kind=kind,
                                at=now, actor_id=actor.user_id, device_id=actor.device_id, mutation_id=mutation_id,
                                changes=changes))
    link_record(record.id, category.attachments(loaded))
    return WriteOutcome(record, "conflict" if conflicts else "applied", merged=bool(changed_since), conflicts=conflicts)
