"""Statistics per grid for the city map: one aggregate query per request, figures only.

Metrics (all over the records whose `occurred_at`, the time the grid administrator's tablet recorded, falls in the
window; the window is whole days in China time, UTC+8, `from` and `to` included; default: the last 30 days):
    records         number of records (optionally of one `category`)
    open_cases      cases still in the workflow: reported, accepted, dispatched, handled or verified (not closed,
                    not accepted, or returned to the field); the incident categories (mediation, labor services,
                    integrity concerns), not visit rounds, which are a log rather than a case; optionally of one
                    `category`
    overdue         open records past the time limit of their current stage, by the review feature's deadline rule
                    (server.review.deadlines: configurable limits per category and stage, stage clocks);
                    optionally of one `category`
    visit_coverage  share of the window's days on which the grid had at least one visit round (0..1); for a
                    community, street or district: the mean of its grids' shares (every grid should be walked)
Overdue records are counted over every category the review time limits cover, visit rounds included (a visit
round not reviewed within its limit is flagged in the review queue too), so the map agrees with the queue's counts.

Levels: grids, communities, streets, districts. The database groups by grid code only (the covering index
ix_records_stats answers it); higher levels are sums (or means) of their grids, added up here from the grid
registry. Every active grid (unit) in the caller's scope is in the answer, with 0 when nothing matched.

Who sees what (domain.md): city viewers, supervisors, inspectors and administrators get figures for their scope.
Integrity concerns (confidential categories) are counted for inspectors at every level and for city viewers per
street or higher only (a per-grid or per-community count could point at a person); never for supervisors, who may
be the subject, nor administrators. Without `category`, a metric counts the categories the caller may see at that
level, so no total can be differenced into a per-grid integrity count.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import String, and_, distinct, false, func, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..accounts.auth import Principal
from ..accounts.scope import Scope
from ..errors import BadRequest, Forbidden
from ..extensions import db
from ..geo.models import Community, District, Grid, Street
from ..geo.revision import app_cache, current_revision
from ..records.categories import catalogue
from ..records.models import Record
from ..timeutil import utcnow
from . import models  # noqa: F401  (the stats index, so the metadata knows it)

CHINA = timezone(timedelta(hours=8))  # Asia/Shanghai: no daylight saving since 1991
METRICS = ("records", "open_cases", "overdue", "visit_coverage")
CATEGORY_METRICS = ("records", "open_cases", "overdue")
LEVELS = {"grids": 15, "communities": 12, "streets": 9, "districts": 6}
OPEN_STATUSES = ("reported", "accepted", "dispatched", "handled", "verified")
STATS_ROLES = ("city_viewer", "supervisor", "inspector", "admin")
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
# The finest level at which each role may see counts of confidential categories (None: never).
CONFIDENTIAL_FINEST = {"inspector": "grids", "city_viewer": "streets"}


# --- the time window ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    first: date  # China-time days, both included
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), CHINA).astimezone(timezone.utc)

    @property
    def end(self) -> datetime:  # exclusive
        return datetime.combine(self.last + timedelta(days=1), time(), CHINA).astimezone(timezone.utc)


def today_in_china(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(CHINA).date()


def resolve_window(first: date | None, last: date | None, now: datetime | None = None) -> Window:
    """The window from the `from`/`to` arguments; a missing end is today, a missing start 30 days before the end."""
    last = last or today_in_china(now)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadRequest("`from` is after `to`.", {"from": ["must not be after `to`"]})
    window = Window(first, last)
    if window.days > MAX_DAYS:
        raise BadRequest(f"The window is longer than {MAX_DAYS} days.", {"from": [f"at most {MAX_DAYS} days before `to`"]})
    return window


# --- who may see which categories -----------------------------------------------------------------------------------

def confidential_visible(principal: Principal, level: str) -> bool:
    finest = CONFIDENTIAL_FINEST.get(principal.role)
    return finest is not None and LEVELS[level] <= LEVELS[finest]


def category_choices(principal: Principal) -> list[str]:
    """Categories the caller may pick at some level (the map's selector)."""
    return [key for key, category in catalogue().categories.items()
            if not category.confidential or principal.role in CONFIDENTIAL_FINEST]


def categories_for(principal: Principal, metric: str, level: str, category: str | None) -> list[str]:
    """The categories a request counts; raises when the caller may not see the one asked for."""
    known = catalogue().categories
    if metric == "visit_coverage":
        if category is not None:
            raise BadRequest("visit_coverage counts visit rounds only; leave out `category`.",
                             {"category": ["not allowed with metric visit_coverage"]})
        return [key for key, c in known.items() if c.kind == "visit"]
    if category is not None:
        if category not in known:
            raise BadRequest(f"Unknown category {category!r}.", {"category": [f"must be one of {', '.join(known)}"]})
        if known[category].confidential and not confidential_visible(principal, level):
            finest = CONFIDENTIAL_FINEST.get(principal.role)
            where = f"per {finest[:-1]} or higher (e.g. /stats/streets)" if finest else "to inspectors only"
            raise Forbidden(f"Counts of {category} are shown {where}.",
                            {"category": [f"not available to the role {principal.role} at level {level}"]})
        return [category]
    kinds = ("incident",) if metric == "open_cases" else ("incident", "visit")
    return sorted(key for key, c in known.items() if c.kind in kinds
                  and (not c.confidential or confidential_visible(principal, level)))


# --- the grid registry ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    grid: str
    community: str
    street: str
    district: str

    def at(self, level: str) -> str:
        return {"grids": self.grid, "communities": self.community, "streets": self.street,
                "districts": self.district}[level]


def registry() -> tuple[Unit, ...]:
    """Every active grid with its community, street and district codes (cached per dataset revision)."""
    def build() -> tuple[Unit, ...]:
        rows = db.session.execute(
            select(Grid.code, Community.code, Street.code, District.code)
            .join(Community, Grid.community_id == Community.id).join(Street, Community.street_id == Street.id)
            .join(District, Street.district_id == District.id).where(Grid.retired_at.is_(None)).order_by(Grid.code))
        return tuple(Unit(*row) for row in rows)

    return app_cache("maps_registry").get(current_revision(), (), build)


def scope_condition(scope: Scope):
    """The scope as ranges of grid codes (a code's grids are the 15-digit codes it prefixes), which the stats index
    answers directly; the same records as Scope.filter."""
    if scope.is_city:
        return true()
    ranges = [Record.grid_code.between(code.ljust(15, "0"), code.ljust(15, "9"))
              for code in scope.codes if code.isdigit() and len(code) in (6, 9, 12, 15)]
    return or_(*ranges) if ranges else false()


# --- the query ------------------------------------------------------------------------------------------------------

class local_day(FunctionElement):
    """The China-time calendar day of a UTC timestamp column."""

    type = String()
    inherit_cache = True


@compiles(local_day, "sqlite")
def _local_day_sqlite(element, compiler, **kw):
    return "date(%s, '+8 hours')" % compiler.process(element.clauses, **kw)


@compiles(local_day, "postgresql")
def _local_day_postgresql(element, compiler, **kw):
    return "CAST(timezone('Asia/Shanghai', %s) AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(local_day)
def _local_day_default(element, compiler, **kw):  # pragma: no cover - the two supported databases are above
    return "CAST(%s AS DATE)" % compiler.process(element.clauses, **kw)


def grid_query(metric: str, categories: list[str], window: Window, scope: Scope, now: datetime):
    """The one aggregate statement of a request: (grid_code, figure) grouped by grid code."""
    conditions = [scope_condition(scope), Record.category.in_(categories),
                  Record.occurred_at >= window.start, Record.occurred_at < window.end]
    if metric == "visit_coverage":
        figure = func.count(distinct(local_day(Record.occurred_at)))
    else:
        figure = func.count()
    query = select(Record.grid_code, figure).select_from(Record)
    if metric == "open_cases":
        conditions.append(Record.status.in_(OPEN_STATUSES))
    elif metric == "overdue":
        from ..review import deadlines
        from ..review.models import CaseClock

        table = deadlines.limits()
        overdue, _ = deadlines.flag_conditions(now, table)
        if overdue is None:  # no time limits configured: nothing can be late
            return None
        # The deadline rule compares the stage start (arrival, resubmission or last transition: never before the
        # arrival) with each limit's cut-off, so "arrived before the cut-off" is a necessary condition. It needs
        # only columns of the stats index, so SQLite drops most rows before reading the table or the clocks.
        arrived_early = [and_(Record.category == limit.category,
                              Record.status.in_([s for s, stage in deadlines.STAGE_OF_STATUS.items()
                                                 if stage == limit.stage]),
                              Record.received_at < deadlines.subtract_time(now, limit.hours, limit.working_days))
                         for limit in table.values()]
        query = query.outerjoin(CaseClock, CaseClock.record_id == Record.id)
        conditions += [or_(*arrived_early), overdue]
    return query.where(and_(*conditions)).group_by(Record.grid_code)


def stats(principal: Principal, metric: str, level: str = "grids", category: str | None = None,
          first: date | None = None, last: date | None = None, now: datetime | None = None) -> dict:
    """Figures per unit of `level` in the caller's scope: {"metric", ..., level: {code: figure}, "max"}."""
    if principal.role not in STATS_ROLES:
        raise Forbidden(f"The role {principal.role!r} does not see statistics.")
    if metric not in METRICS:
        raise BadRequest(f"Unknown metric {metric!r}.", {"metric": [f"must be one of {', '.join(METRICS)}"]})
    if level not in LEVELS:
        raise BadRequest(f"Unknown level {level!r}.", {"level": [f"must be one of {', '.join(LEVELS)}"]})
    now = now or utcnow()
    window = resolve_window(first, last, now)
    categories = categories_for(principal, metric, level, category)
    scope = principal.scope

    query = grid_query(metric, categories, window, scope, now)
    per_grid = dict(db.session.execute(query).all()) if query is not None else {}

    units = [unit for unit in registry() if scope.allows_grid(unit.grid)]
    if metric == "visit_coverage":
        shares = {unit.grid: per_grid.get(unit.grid, 0) / window.days for unit in units}
        if level == "grids":
            values = {code: round(share, 3) for code, share in shares.items()}
        else:
            members: dict[str, list[float]] = {}
            for unit in units:
                members.setdefault(unit.at(level), []).append(shares[unit.grid])
            values = {code: round(sum(v) / len(v), 3) for code, v in members.items()}
        unit_name = "share_of_days"
    else:
        values = {unit.at(level): 0 for unit in units}
        if level == "grids":
            values.update((code, n) for code, n in per_grid.items() if code in values)
        else:
            by_grid = {unit.grid: unit for unit in units}
            for code, n in per_grid.items():
                # A retired grid's records still count for the community its code belongs to.
                key = by_grid[code].at(level) if code in by_grid else code[:LEVELS[level]]
                values[key] = values.get(key, 0) + n
        unit_name = "count"
    return {"metric": metric, "category": category, "categories": categories, "level": level,
            "from": window.first.isoformat(), "to": window.last.isoformat(), "days": window.days,
            "time_basis": "occurred_at", "timezone": "Asia/Shanghai", "unit": unit_name,
            level: values, "max": max(values.values(), default=0)}
