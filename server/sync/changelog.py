"""The change log that pulls read, and the lock that keeps it in commit order.

Pull cursors are change-log ids. If two transactions could append concurrently, the one holding the lower id might
commit after a device had already pulled past the higher one, and its change would be skipped forever. So every
writer that appends takes one database-wide write lock first: SQLite's own (BEGIN IMMEDIATE) or a PostgreSQL
transaction-level advisory lock. Held until commit, it makes id order equal commit order.
"""
from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from ..bulk import insert_tuples
from ..extensions import db
from ..timeutil import utcnow
from .models import ChangeLogEntry

WRITE_LOCK_KEY = 420500_0001


def lock_for_writing() -> None:
    session = db.session
    if session.info.get("wangge.write_lock"):
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
    session.info["wangge.write_lock"] = True


def log_change(record, origin_device_id: int | None) -> None:
    log_changes([(record.id, record.grid_code, record.version)], origin_device_id)


def log_changes(changes: list[tuple[str, str, int]], origin_device_id: int | None) -> None:
    """Append (record id, grid code, version) entries in order, with one executemany."""
    lock_for_writing()
    now = utcnow()
    insert_tuples(ChangeLogEntry.__table__, ("record_id", "grid_code", "version", "origin_device_id", "at"),
                  [(record_id, grid_code, version, origin_device_id, now) for record_id, grid_code, version in changes])


@event.listens_for(Session, "after_transaction_end")
def _forget_lock(session, transaction) -> None:
    # The lock ends with the outermost transaction; savepoints inside it keep it.
    if transaction.parent is None:
        session.info.pop("wangge.write_lock", None)
