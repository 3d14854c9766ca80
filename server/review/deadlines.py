"""Electronic supervision (电子监察): time limits per category and stage, each case's due time, overdue counts.

A stage is the part of the workflow a limit applies to:
    accept  reported → accepted (or returned / not accepted)       clock: arrival, or the resubmission after a return
    handle  accepted (and dispatched) → handled                     clock: acceptance (dispatch keeps it running)
    verify  handled → verified                                      clock: handled
    close   verified → closed                                       clock: verified
Limits are hours of wall-clock time, or of working time when `working_days` (Monday to Friday, Beijing time; public
holidays are not known to the server yet). "Due soon" = not overdue and less than a quarter of the limit, or less
than 4 hours, left.

Lists compute flags in Python for the rows they show (`deadline_for`); counts are one aggregate query each
(`overdue_counts`, `scope_counts`): every (category, stage) limit becomes two cut-off times, so "overdue" is
"the stage started before the cut-off" and the database compares times only.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, case, func, or_, select

from ..accounts.scope import Scope
from ..errors import Unprocessable
from ..extensions import db
from ..records.categories import catalogue
from ..records.models import Record
from ..records.queries import open_categories
from ..timeutil import aware, utcnow
from .models import CaseClock, TimeLimit

BEIJING = timezone(timedelta(hours=8))
STAGES = ("accept", "handle", "verify", "close")
STAGE_OF_STATUS = {"reported": "accept", "accepted": "handle", "dispatched": "handle", "handled": "verify",
                   "verified": "close"}
DUE_SOON_FRACTION = 0.25
DUE_SOON_HOURS = 4.0
MAX_HOURS = 24 * 366

# domain.md: accept within 1 working day; mediation handled within 15 days; labor services within 5 working days;
# integrity concerns reach an inspector (accepted) within 1 day. The migration seeds the same rows.
DEFAULT_LIMITS = (
    ("mediation", "accept", 24, True),
    ("mediation", "handle", 15 * 24, False),
    ("labor_service", "accept", 24, True),
    ("labor_service", "handle", 5 * 24, True),
    ("visit_round", "accept", 24, True),
    ("integrity", "accept", 24, False),
)


# --- working time ---------------------------------------------------------------------------------------------------

def _is_workday(day: datetime) -> bool:
    return day.weekday() < 5


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def add_time(start: datetime, hours: float, working_days: bool) -> datetime:
    """`start` plus `hours` of wall-clock time, or of working time (weekends skipped)."""
    start = aware(start)
    if not working_days:
        return start + timedelta(hours=hours)
    moment, left = start.astimezone(BEIJING), timedelta(hours=hours)
    while True:
        day_start = _midnight(moment)
        next_day = day_start + timedelta(days=1)
        if not _is_workday(moment):
            moment = next_day
            continue
        if left <= next_day - moment:
            return (moment + left).astimezone(timezone.utc)
        left -= next_day - moment
        moment = next_day


def subtract_time(end: datetime, hours: float, working_days: bool) -> datetime:
    """The earliest start whose due time (`add_time(start, hours)`) is `end`: the inverse, for cut-offs."""
    end = aware(end)
    if not working_days:
        return end - timedelta(hours=hours)
    moment, left = end.astimezone(BEIJING), timedelta(hours=hours)
    while True:
        day_start = _midnight(moment)
        if moment == day_start:  # at midnight: the time available is the whole previous day
            day_start -= timedelta(days=1)
        if not _is_workday(day_start):
            moment = day_start
            continue
        if left <= moment - day_start:
            return (moment - left).astimezone(timezone.utc)
        left -= moment - day_start
        moment = day_start


# --- limits ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limit:
    category: str
    stage: str
    hours: float
    working_days: bool

    @property
    def due_soon_hours(self) -> float:
        return max(self.hours * DUE_SOON_FRACTION, DUE_SOON_HOURS)


def limits() -> dict[tuple[str, str], Limit]:
    return {(row.category, row.stage): Limit(row.category, row.stage, row.hours, row.working_days)
            for row in db.session.scalars(select(TimeLimit))}


def set_limits(rows: list[dict], user) -> None:
    """Set the time limits given in `rows` ({category, stage, hours, working_days}); empty hours remove that limit,
    a (category, stage) not in `rows` stays as it is. The caller commits. Raises Unprocessable naming the bad
    entry."""
    known = set(catalogue().categories)
    errors: dict[str, list[str]] = {}
    wanted: dict[tuple[str, str], tuple[float, bool]] = {}
    removed: set[tuple[str, str]] = set()
    for row in rows:
        key = f"{row.get('category')}.{row.get('stage')}"
        if row.get("category") not in known or row.get("stage") not in STAGES:
            errors[key] = ["unknown category or stage"]
            continue
        hours = row.get("hours")
        if hours in (None, ""):
            removed.add((row["category"], row["stage"]))
            continue
        try:
            hours = float(hours)
        except (TypeError, ValueError):
            errors[key] = ["must be a number of hours"]
            continue
        if not 0 < hours <= MAX_HOURS:
            errors[key] = [f"must be more than 0 and at most {MAX_HOURS} hours"]
            continue
        wanted[(row["category"], row["stage"])] = (hours, bool(row.get("working_days")))
    if errors:
        raise Unprocessable("Some time limits are invalid.", errors)
    existing = {(row.category, row.stage): row for row in db.session.scalars(select(TimeLimit))}
    now = utcnow()
    for key in removed:
        if key in existing:
            db.session.delete(existing[key])
    for (category, stage), (hours, working_days) in wanted.items():
        row = existing.get((category, stage))
        if row is None:
            db.session.add(TimeLimit(category=category, stage=stage, hours=hours, working_days=working_days,
                                     updated_at=now, updated_by_id=user.id if user else None))
        elif (row.hours, row.working_days) != (hours, working_days):
            row.hours, row.working_days, row.updated_at = hours, working_days, now
            row.updated_by_id = user.id if user else None


# --- one record -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Deadline:
    stage: str
    started_at: datetime
    due_at: datetime
    hours: float
    working_days: bool
    state: str  # overdue | due_soon | ok
    left: timedelta  # negative when overdue

    @property
    def overdue(self) -> bool:
        return self.state == "overdue"

    @property
    def due_soon(self) -> bool:
        return self.state == "due_soon"


def stage_started(record: Record, clock: CaseClock | None) -> datetime:
    """When the record's current stage started (see the module docstring and CaseClock)."""
    if clock is None:
        return aware(record.received_at)
    if record.status == "reported":
        return aware(record.updated_at)
    return aware(clock.started_at)


def deadline_for(record: Record, clock: CaseClock | None, table: dict[tuple[str, str], Limit],
                 now: datetime | None = None) -> Deadline | None:
    """The record's current deadline, or None when its stage has no limit (or the case is finished)."""
    stage = STAGE_OF_STATUS.get(record.status)
    limit = table.get((record.category, stage)) if stage else None
    if limit is None:
        return None
    now = now or utcnow()
    started = stage_started(record, clock)
    due = add_time(started, limit.hours, limit.working_days)
    left = due - now
    if left < timedelta(0):
        state = "overdue"
    elif left < timedelta(hours=limit.due_soon_hours):
        state = "due_soon"
    else:
        state = "ok"
    return Deadline(stage, started, due, limit.hours, limit.working_days, state, left)


def clocks_for(record_ids: list[str]) -> dict[str, CaseClock]:
    if not record_ids:
        return {}
    return {clock.record_id: clock for clock in db.session.scalars(
        select(CaseClock).where(CaseClock.record_id.in_(record_ids)))}


# --- counts ---------------------------------------------------------------------------------------------------------

def stage_start_column():
    """SQL for `stage_started` (needs records LEFT JOIN case_clocks)."""
    return case((CaseClock.record_id.is_(None), Record.received_at),
                (Record.status == "reported", Record.updated_at),
                else_=CaseClock.started_at)


def _cutoffs(table: dict[tuple[str, str], Limit], now: datetime) -> list[tuple[Limit, list[str], datetime, datetime]]:
    """Per limit: the statuses of its stage, the overdue cut-off and the due-soon cut-off (stage started before)."""
    result = []
    for limit in table.values():
        statuses = [status for status, stage in STAGE_OF_STATUS.items() if stage == limit.stage]
        overdue = subtract_time(now, limit.hours, limit.working_days)
        soon = subtract_time(now + timedelta(hours=limit.due_soon_hours), limit.hours, limit.working_days)
        result.append((limit, statuses, overdue, soon))
    return result


def flag_conditions(now: datetime | None = None, table: dict | None = None):
    """(overdue condition, due-soon condition) as SQL over records LEFT JOIN case_clocks; None when no limits."""
    now = now or utcnow()
    table = limits() if table is None else table
    started = stage_start_column()
    overdue, soon = [], []
    for limit, statuses, overdue_cut, soon_cut in _cutoffs(table, now):
        applies = and_(Record.category == limit.category, Record.status.in_(statuses))
        overdue.append(and_(applies, started < overdue_cut))
        soon.append(and_(applies, started >= overdue_cut, started < soon_cut))
    if not overdue:
        return None, None
    return or_(*overdue), or_(*soon)


LEVEL_COLUMNS = {"grid": Record.grid_code, "community": Record.community_code, "street": Record.street_code,
                 "district": Record.district_code}


def overdue_counts(level: str, scope: Scope, *, include_confidential: bool = False,
                   now: datetime | None = None) -> dict[str, dict[str, int]]:
    """Overdue and due-soon cases per grid, community, street or district in `scope`:
    {code: {"overdue": n, "due_soon": n}} (codes with neither are left out). Integrity concerns are counted only
    when `include_confidential` (an inspector's view); a count reveals no content either way."""
    if level not in LEVEL_COLUMNS:
        raise ValueError(f"level must be one of {', '.join(LEVEL_COLUMNS)}")
    overdue, soon = flag_conditions(now)
    if overdue is None:
        return {}
    column = LEVEL_COLUMNS[level]
    query = (select(column, func.count().filter(overdue), func.count().filter(soon))
             .select_from(Record).outerjoin(CaseClock, CaseClock.record_id == Record.id)
             .where(scope.filter(Record), Record.status.in_(list(STAGE_OF_STATUS)), or_(overdue, soon))
             .group_by(column))
    query = _confidential_filter(query, include_confidential)
    return {code: {"overdue": n_overdue, "due_soon": n_soon}
            for code, n_overdue, n_soon in db.session.execute(query)}


def scope_counts(scope: Scope, *, confidential: bool = False, extra=None,
                 now: datetime | None = None) -> dict[str, int]:
    """{"overdue": n, "due_soon": n} over all of `scope`: integrity concerns only (`confidential`, the inspectors'
    queue) or everything else (the review queue). `extra`: further SQL conditions (the queue's filters)."""
    overdue, soon = flag_conditions(now)
    if overdue is None:
        return {"overdue": 0, "due_soon": 0}
    query = (select(func.count().filter(overdue), func.count().filter(soon))
             .select_from(Record).outerjoin(CaseClock, CaseClock.record_id == Record.id)
             .where(scope.filter(Record), Record.status.in_(list(STAGE_OF_STATUS)), or_(overdue, soon)))
    query = _confidential_filter(query, include_confidential=confidential, only_confidential=confidential)
    for condition in extra or ():
        query = query.where(condition)
    n_overdue, n_soon = db.session.execute(query).one()
    return {"overdue": n_overdue or 0, "due_soon": n_soon or 0}


# The queue's header counts scan every open record of the scope (tens of milliseconds at 100,000 records), so each
# process keeps them for a short while; a transition made through this process forgets them at once.
COUNTS_TTL_SECONDS = 60.0
_counts_cache: dict[tuple, tuple[float, dict[str, int]]] = {}
_counts_lock = threading.Lock()


def cached_scope_counts(scope: Scope, *, confidential: bool = False) -> dict[str, int]:
    key = (scope.codes, confidential)
    now = time.monotonic()
    with _counts_lock:
        hit = _counts_cache.get(key)
    if hit is not None and now - hit[0] < COUNTS_TTL_SECONDS:
        return hit[1]
    counts = scope_counts(scope, confidential=confidential)
    with _counts_lock:
        if len(_counts_cache) > 1000:
            _counts_cache.clear()
        _counts_cache[key] = (now, counts)
    return counts


def forget_counts() -> None:
    with _counts_lock:
        _counts_cache.clear()


def _confidential_filter(query, include_confidential: bool, only_confidential: bool = False):
    # As records.queries does: a category the catalogue does not know counts as confidential.
    if only_confidential:
        return query.where(Record.category.not_in(open_categories()))
    if include_confidential:
        return query
    return query.where(Record.category.in_(open_categories()))
