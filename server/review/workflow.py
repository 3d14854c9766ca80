"""The case workflow (domain.md, after GB/T 30428): who may move a record from which status to which.

    reported ─accept→ accepted ─dispatch→ dispatched ─handle→ handled ─verify→ verified ─close→ closed
        │                 └────────────handle──────────↗
        ├─return→ returned  (the tablet's correction brings it back to reported: records.services.update_record)
        └─not_accept→ not_accepted

Every transition records who, when and a comment (required to return, not accept and dispatch) as a RecordChange of
kind "status", bumps the version, restarts the stage clock and appends to the change log under the write lock, so
the tablet's next pull carries the new status and the comment. Nothing is overwritten.

Integrity concerns (confidential categories) are moved by inspectors only, and never returned to the field: they
are read-only once uploaded. Everything else is moved by supervisors and administrators within their scope.
Services here never commit: the caller does (one transaction, also for a bulk accept).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..accounts.models import User
from ..accounts.scope import Scope
from ..errors import Conflict, Forbidden, NotFound, Unprocessable
from ..extensions import db
from ..records.categories import catalogue
from ..records.models import Record, RecordChange
from ..sync.changelog import lock_for_writing
from ..timeutil import utcnow
from .deadlines import STAGE_OF_STATUS, forget_counts
from .models import CaseClock

UP_A_LEVEL = "@up"  # dispatch target meaning "the level above" (street, then district)
MAX_COMMENT = 2000
MAX_TARGET = 200


@dataclass(frozen=True)
class Action:
    key: str
    sources: frozenset[str]
    target_status: str
    comment_required: bool = False
    open_records: bool = True  # available on ordinary records
    confidential_records: bool = True  # available on integrity concerns


ACTIONS: dict[str, Action] = {action.key: action for action in (
    Action("accept", frozenset({"reported"}), "accepted"),
    Action("return", frozenset({"reported"}), "returned", comment_required=True, confidential_records=False),
    Action("not_accept", frozenset({"reported"}), "not_accepted", comment_required=True),
    Action("dispatch", frozenset({"accepted", "dispatched"}), "dispatched", comment_required=True),
    Action("handle", frozenset({"accepted", "dispatched"}), "handled"),
    Action("verify", frozenset({"handled"}), "verified"),
    Action("close", frozenset({"verified"}), "closed"),
)}

OPEN_RECORD_ROLES = ("supervisor", "admin")
CONFIDENTIAL_RECORD_ROLES = ("inspector",)


class InvalidTransition(Conflict):
    code = "invalid_transition"


class StaleRecord(Conflict):
    code = "stale_record"


def available_actions(record: Record) -> list[Action]:
    """The actions the record's status and category allow (the role is checked by `transition`)."""
    confidential = catalogue().is_confidential(record.category)
    return [action for action in ACTIONS.values() if record.status in action.sources
            and (action.confidential_records if confidential else action.open_records)]


def _check_actor(record: Record, actor: User) -> None:
    confidential = catalogue().is_confidential(record.category)
    scope = Scope(tuple(actor.scope_codes))
    # Out of scope, or an integrity concern for anyone but an inspector: as if the record did not exist.
    if not scope.allows_grid(record.grid_code) or (confidential and actor.role not in CONFIDENTIAL_RECORD_ROLES):
        raise NotFound(f"No record {record.id} that you may act on.", {"record_id": ["unknown record"]})
    allowed = CONFIDENTIAL_RECORD_ROLES if confidential else OPEN_RECORD_ROLES
    if actor.role not in allowed:
        raise Forbidden(f"The role {actor.role!r} may not move this record.")


def _clean(text: str | None, limit: int, field: str) -> str | None:
    text = (text or "").strip().replace("\x00", "")
    if len(text) > limit:
        raise Unprocessable(f"The {field} is too long.", {field: [f"must be at most {limit} characters"]})
    return text or None


def _apply(record: Record, action: Action, comment: str | None, actor: User, target: str | None, now) -> None:
    old = record.status
    changes = {"status": {"old": old, "new": action.target_status}}
    clock = db.session.get(CaseClock, record.id)
    if action.key == "dispatch":
        previous = clock.dispatched_to if clock else None
        changes["dispatched_to"] = {"old": previous, "new": target}
    record.version += 1
    record.status = action.target_status
    record.status_comment = comment
    record.updated_at = now
    stage = STAGE_OF_STATUS.get(action.target_status, action.target_status)
    if clock is None:
        clock = CaseClock(record_id=record.id, stage=stage, started_at=now)
        db.session.add(clock)
    elif not (action.key == "dispatch" and clock.stage == stage):  # a dispatch keeps the handle clock running
        clock.stage, clock.started_at = stage, now
    if action.key == "dispatch":
        clock.dispatched_to = target
    lock_for_writing()  # taken by the caller already; the history entry is the change log, in commit order
    db.session.add(RecordChange(record_id=record.id, version=record.version, grid_code=record.grid_code,
                                kind="status", at=now, actor_id=actor.id, device_id=None, changes=changes,
                                comment=comment))
    forget_counts()


def _locked_record(record_id: str) -> Record:
    record = db.session.execute(
        select(Record).where(Record.id == record_id).execution_options(populate_existing=True)).scalar()
    if record is None:
        raise NotFound(f"No record {record_id} that you may act on.", {"record_id": ["unknown record"]})
    return record


def transition(record_id: str, action: str, comment: str | None, actor_user: User, target: str | None = None,
               expected_version: int | None = None) -> Record:
    """Move one record by `action` (a key of ACTIONS). Raises NotFound (unknown, out of scope, or confidential for
    a non-inspector), Forbidden (role), Unprocessable (unknown action, missing comment or dispatch target),
    InvalidTransition (the status does not allow it), StaleRecord (it changed since `expected_version`)."""
    chosen = ACTIONS.get(action)
    if chosen is None:
        raise Unprocessable(f"Unknown action {action!r}.", {"action": [f"must be one of {', '.join(ACTIONS)}"]})
    comment = _clean(comment, MAX_COMMENT, "comment")
    target = _clean(target, MAX_TARGET, "target")
    if chosen.comment_required and not comment:
        raise Unprocessable("A comment is required for this action.", {"comment": ["required"]})
    if chosen.key == "dispatch" and not target:
        raise Unprocessable("Say where the case is dispatched to: a department, or up a level.",
                            {"target": ["required"]})
    lock_for_writing()  # before reading: the status we check is the status we change
    record = _locked_record(record_id)
    _check_actor(record, actor_user)
    if expected_version is not None and record.version != expected_version:
        raise StaleRecord(f"The record changed (version {record.version}, you saw {expected_version}); "
                          f"reload it and try again.", {"version": [f"now {record.version}"]})
    if chosen not in available_actions(record):
        raise InvalidTransition(f"A {record.status} record cannot be moved by {action!r}.",
                                {"action": [f"not allowed from {record.status}"]})
    _apply(record, chosen, comment, actor_user, target if chosen.key == "dispatch" else None, utcnow())
    return record


@dataclass
class BulkResult:
    accepted: list[str]
    skipped: dict[str, str]  # record id -> reason


def bulk_accept(record_ids: list[str], comment: str | None, actor_user: User) -> BulkResult:
    """Accept many records in one transaction. Records that cannot be accepted (no longer reported, out of scope,
    unknown) are skipped with the reason; the others are accepted together."""
    comment = _clean(comment, MAX_COMMENT, "comment")
    lock_for_writing()
    now = utcnow()
    accept = ACTIONS["accept"]
    result = BulkResult([], {})
    for record_id in dict.fromkeys(record_ids):
        record = db.session.get(Record, record_id, populate_existing=True)
        try:
            if record is None:
                raise NotFound("unknown record")
            _check_actor(record, actor_user)
            if accept not in available_actions(record):
                raise InvalidTransition(f"status is {record.status}")
        except (NotFound, Forbidden, InvalidTransition) as error:
            result.skipped[record_id] = error.message
            continue
        _apply(record, accept, comment, actor_user, None, now)
        result.accepted.append(record_id)
    return result
