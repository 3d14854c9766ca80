"""Reading records: scoped lists with keyset paging, one record with its history, and who may see which fields.

Rules (domain.md, roles and scopes):
- grid administrators, supervisors, inspectors and administrators read records inside their scope; city viewers
  see aggregates only and never reach these functions (the routes refuse them);
- integrity concerns (confidential categories) exist only for inspectors: for everyone else they are left out of
  lists and unknown on detail, exactly like a record outside the scope;
- every inspector read of a confidential record is audited in the same transaction as the read, and committed.

`visible_content` / `field_policy` decide which content fields a role sees; the city views and exports reuse them.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from ..accounts.auth import RECORD_READERS, Principal
from ..accounts.models import User
from ..attachments.services import expected_for_record
from ..devices.models import Device
from ..errors import BadRequest, NotFound
from ..extensions import db
from ..timeutil import aware
from .categories import Category, catalogue
from .models import AuditEvent, Record, RecordChange, RecordConflict

# Roles that may read individual records, and with them the personal data in them (parties, persons served).
READ_ROLES = RECORD_READERS
PERSONAL_DATA_ROLES = frozenset(READ_ROLES)


# --- who sees which fields ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldPolicy:
    personal: bool  # may see fields marked `personal` in categories.json
    confidential: bool  # may see the confidential payload of confidential categories
    hidden: frozenset[str]  # content fields of this category the principal may not see
    hide_all: bool = False  # category unknown to the catalogue and no right to personal data: show nothing

    def keep(self, name: str) -> bool:
        return not self.hide_all and name not in self.hidden


def field_policy(category_key: str, principal: Principal) -> FieldPolicy:
    """The one decision on which content fields of a category a principal sees."""
    category: Category | None = catalogue().get(category_key)
    personal = principal.role in PERSONAL_DATA_ROLES
    # A category the catalogue no longer knows is treated as the most restricted one (as attachments do).
    confidential = principal.sees_confidential and (category is None or category.confidential)
    if category is None:
        return FieldPolicy(personal, confidential, frozenset(), hide_all=not personal)
    return FieldPolicy(personal, confidential, frozenset() if personal else category.personal_fields)


def _filtered(values: dict | None, policy: FieldPolicy) -> dict:
    return {key: value for key, value in (values or {}).items() if policy.keep(key)}


def visible_content(record: Record, principal: Principal) -> dict:
    """What of a record's content `principal` may see: {"fields": {...}}, plus {"confidential": {...}} only for an
    inspector reading a confidential category. A missing key means "not yours to see", never an empty value."""
    policy = field_policy(record.category, principal)
    view = {"fields": _filtered(record.content, policy)}
    if policy.confidential:
        view["confidential"] = _filtered(record.confidential, policy)
    return view


def _visible_changes(change: RecordChange, policy: FieldPolicy) -> dict:
    # Workflow columns (status, grid_code) are not content fields and always stay.
    view = {"changes": _filtered(change.changes, policy)}
    if policy.confidential:
        view["confidential_changes"] = _filtered(change.confidential_changes, policy)
    return view


# --- scope ----------------------------------------------------------------------------------------------------------

def open_categories() -> list[str]:
    """Categories anyone who reads records may see: the known, non-confidential ones."""
    return sorted(key for key, category in catalogue().categories.items() if not category.confidential)


def readable(principal: Principal):
    """SQL condition: the records `principal` may read (scope; confidential or unknown categories for inspectors
    only)."""
    condition = principal.scope.filter(Record)
    if principal.sees_confidential:
        return condition
    return and_(condition, Record.category.in_(open_categories()))


def _audit(principal: Principal, action: str, record_id: str, detail: dict) -> None:
    db.session.add(AuditEvent(user_id=principal.user.id, device_id=principal.device.id if principal.device else None,
                              action=action, record_id=record_id, detail=detail))


# --- list -----------------------------------------------------------------------------------------------------------

def encode_cursor(received_at: datetime, record_id: str) -> str:
    moment = aware(received_at).astimezone(timezone.utc).isoformat(timespec="microseconds")
    return base64.urlsafe_b64encode(f"r1|{moment}|{record_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, moment, record_id = text.split("|")
        if prefix != "r1":
            raise ValueError(prefix)
        return datetime.fromisoformat(moment).astimezone(timezone.utc), str(uuid.UUID(record_id))
    except (ValueError, OverflowError, UnicodeDecodeError, binascii.Error) as error:
        raise BadRequest("The cursor was not issued by this server.", {"cursor": ["invalid cursor"]}) from error


def _row_view(record: Record, created_by: str, device_uid: str | None, principal: Principal) -> dict:
    return {
        "id": record.id, "category": record.category, "grid_code": record.grid_code,
        "community_code": record.community_code, "street_code": record.street_code,
        "district_code": record.district_code, "status": record.status, "status_comment": record.status_comment,
        "urgency": record.urgency, "version": record.version, **visible_content(record, principal),
        "occurred_at": record.occurred_at, "occurred_at_server_est": record.occurred_at_server_est,
        "received_at": record.received_at, "updated_at": record.updated_at, "created_by": created_by,
        "device": device_uid, "open_conflicts": record.open_conflicts,
    }


def _with_people():
    return (select(Record, User.username, Device.uid)
            .join(User, Record.created_by_id == User.id)
            .outerjoin(Device, Record.device_id == Device.id))


def list_records(principal: Principal, filters: dict) -> dict:
    """A page of readable records, newest received first: {"records": [views], "next_cursor": str | None}."""
    query = _with_people().where(readable(principal))
    for argument, column in (("category", Record.category), ("grid", Record.grid_code),
                             ("community", Record.community_code), ("status", Record.status)):
        if filters.get(argument):
            query = query.where(column == filters[argument])
    if filters.get("from"):
        query = query.where(Record.received_at >= filters["from"].astimezone(timezone.utc))
    if filters.get("to"):
        query = query.where(Record.received_at < filters["to"].astimezone(timezone.utc))
    if filters.get("cursor"):
        after_at, after_id = decode_cursor(filters["cursor"])
        query = query.where(or_(Record.received_at < after_at,
                                and_(Record.received_at == after_at, Record.id < after_id)))
    limit = filters["limit"]
    rows = db.session.execute(query.order_by(Record.received_at.desc(), Record.id.desc()).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]

    last = rows[-1][0] if rows else None
    page = {"records": [_row_view(record, username, uid, principal) for record, username, uid in rows],
            "next_cursor": encode_cursor(last.received_at, last.id) if more and last else None}

    audited = [record.id for record, _, _ in rows if catalogue().is_confidential(record.category)]
    if audited:  # after the views are built: the commit expires the loaded rows
        shown = {key: (value.isoformat() if isinstance(value, datetime) else value)
                 for key, value in filters.items() if key != "cursor" and value is not None}
        for record_id in audited:
            _audit(principal, "list_confidential", record_id, {"filters": shown, "page_size": len(rows)})
        db.session.commit()
    return page


# --- one record -----------------------------------------------------------------------------------------------------

def normalize_record_id(raw: str) -> str:
    """The canonical (lowercase, hyphenated) form the tablet's UUIDs are stored in; 400 when it is no UUID."""
    try:
        return str(uuid.UUID(raw))
    except ValueError as error:
        raise BadRequest(f"{raw!r} is not a record id.", {"record_id": ["must be a UUID"]}) from error


def get_record(principal: Principal, record_id: str) -> dict:
    """One readable record with its history, conflicts and expected attachments; 404 for anything not readable
    (unknown, outside the scope, or confidential for a non-inspector), with one message so nothing leaks."""
    record_id = normalize_record_id(record_id)
    row = db.session.execute(_with_people().where(Record.id == record_id, readable(principal))).first()
    if row is None:
        raise NotFound(f"No record {record_id} that you may read.", {"record_id": ["unknown record"]})
    record, created_by, device_uid = row
    policy = field_policy(record.category, principal)
    view = _row_view(record, created_by, device_uid, principal)

    actor = aliased(User)
    view["history"] = [
        {"version": change.version, "kind": change.kind, "at": change.at, "actor": username, "device": uid,
         **_visible_changes(change, policy), "comment": change.comment}
        for change, username, uid in db.session.execute(
            select(RecordChange, actor.username, Device.uid)
            .outerjoin(actor, RecordChange.actor_id == actor.id)
            .outerjoin(Device, RecordChange.device_id == Device.id)
            .where(RecordChange.record_id == record.id).order_by(RecordChange.version))
    ]
    resolver = aliased(User)
    view["conflicts"] = [
        {"id": conflict.id, "field": conflict.field, "base_version": conflict.base_version,
         "version": conflict.version, "device": uid, "created_at": conflict.created_at,
         "resolved": conflict.resolved_at is not None, "resolved_at": conflict.resolved_at, "resolved_by": resolved,
         **({"server_value": conflict.server_value, "device_value": conflict.device_value}
            if policy.keep(conflict.field) else {})}
        for conflict, uid, resolved in db.session.execute(
            select(RecordConflict, Device.uid, resolver.username)
            .outerjoin(Device, RecordConflict.device_id == Device.id)
            .outerjoin(resolver, RecordConflict.resolved_by_id == resolver.id)
            .where(RecordConflict.record_id == record.id).order_by(RecordConflict.id))
    ]
    view["attachments"] = expected_for_record(record.id)

    if policy.confidential:
        _audit(principal, "read_confidential", record.id, {"version": record.version})
        db.session.commit()
    return view
