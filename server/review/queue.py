"""The review queue (supervisors and administrators) and the inspectors' queue: one indexed query per page.

The page is a keyset page on (received_at, id) inside the scope — `community_code = ? ORDER BY received_at DESC
LIMIT 51` walks ix_records_community_received (street, district and grid likewise; the city scope walks
ix_records_received_at). Deadline flags are computed in Python for the rows shown; the header's overdue counts are
one aggregate query, kept for a minute per scope (per grid, community and street counts are on /deadlines).
Integrity concerns (and any category the server does not know) appear only in the inspectors' queue, never in the
review queue.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select

from ..accounts.auth import Principal
from ..accounts.models import User
from ..extensions import db
from ..records.models import STATUSES, Record
from ..records.queries import decode_cursor, encode_cursor, open_categories
from . import deadlines
from .models import CaseClock

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
OPEN_STATUSES = ("reported", "accepted", "dispatched", "handled", "verified")
SORTS = ("newest", "oldest")
DUE_FILTERS = ("overdue", "due_soon")


@dataclass
class QueueRow:
    record: Record
    username: str
    display_name: str
    deadline: deadlines.Deadline | None


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None
    counts: dict[str, int]  # {"overdue", "due_soon"} over the whole queue (cached briefly)


def category_condition(confidential: bool):
    open_ = open_categories()
    return Record.category.not_in(open_) if confidential else Record.category.in_(open_)


def filter_conditions(principal: Principal, filters: dict, *, confidential: bool) -> list:
    """The SQL conditions of a queue (scope, category kind, and the chosen filters), shared with the exports."""
    conditions = [principal.scope.filter(Record), category_condition(confidential)]
    if filters.get("grid"):
        conditions.append(Record.grid_code == filters["grid"])
    if filters.get("category"):
        conditions.append(Record.category == filters["category"])
    status = filters.get("status")
    if status == "open":
        conditions.append(Record.status.in_(OPEN_STATUSES))
    elif status in STATUSES:
        conditions.append(Record.status == status)
    if filters.get("admin"):
        conditions.append(Record.created_by_id == select(User.id).where(User.username == filters["admin"])
                          .scalar_subquery())
    return conditions


def queue_page(principal: Principal, filters: dict, *, confidential: bool = False,
               now: datetime | None = None) -> QueuePage:
    now = now or deadlines.utcnow()
    conditions = filter_conditions(principal, filters, confidential=confidential)
    query = (select(Record, User.username, User.display_name)
             .join(User, Record.created_by_id == User.id).where(*conditions))
    due = filters.get("due")
    table = deadlines.limits()
    if due in DUE_FILTERS:
        overdue, soon = deadlines.flag_conditions(now, table)
        query = query.outerjoin(CaseClock, CaseClock.record_id == Record.id)
        query = query.where((overdue if due == "overdue" else soon) if overdue is not None else False)
    newest = filters.get("sort", "newest") != "oldest"
    if filters.get("cursor"):
        at, record_id = decode_cursor(filters["cursor"])
        if newest:
            query = query.where(or_(Record.received_at < at, and_(Record.received_at == at, Record.id < record_id)))
        else:
            query = query.where(or_(Record.received_at > at, and_(Record.received_at == at, Record.id > record_id)))
    order = (Record.received_at.desc(), Record.id.desc()) if newest else (Record.received_at.asc(), Record.id.asc())
    limit = filters.get("limit") or PAGE_SIZE
    found = db.session.execute(query.order_by(*order).limit(limit + 1)).all()
    more, found = len(found) > limit, found[:limit]

    clocks = deadlines.clocks_for([record.id for record, _, _ in found])
    rows = [QueueRow(record, username, display_name, deadlines.deadline_for(record, clocks.get(record.id), table, now))
            for record, username, display_name in found]
    last = found[-1][0] if found else None
    counts = deadlines.cached_scope_counts(principal.scope, confidential=confidential)
    return QueuePage(rows, encode_cursor(last.received_at, last.id) if more and last else None, counts)


def administrators_in_scope(principal: Principal) -> list[tuple[str, str]]:
    """(username, display name) of the grid administrators with a grid inside the principal's scope."""
    from ..accounts.models import UserScope

    query = select(User.username, User.display_name).where(User.role == "grid_admin", User.active.is_(True))
    scope = principal.scope
    if not scope.is_city:
        if not scope.codes:
            return []
        query = query.where(User.id.in_(select(UserScope.user_id).where(
            or_(*(UserScope.code.startswith(code) for code in scope.codes)))))
    return [tuple(row) for row in db.session.execute(query.order_by(User.username).limit(500))]
