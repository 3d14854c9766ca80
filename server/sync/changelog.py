"""The write lock that keeps the change log in commit order.

The change log is the history itself (records.models.RecordChange): pull cursors are its ids. If two transactions
could append concurrently, the one holding the lower id might commit after a device had already pulled past the
higher one, and its change would be skipped forever. So every writer takes one database-wide write lock before it
writes a history entry: SQLite's own (BEGIN IMMEDIATE) or a PostgreSQL transaction-level advisory lock. Held until
commit, it makes id order equal commit order.
"""
from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from ..extensions import db

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


@event.listens_for(Session, "after_transaction_end")
def _forget_lock(session, transaction) -> None:
    # The lock ends with the outermost transaction; savepoints inside it keep it.
    if transaction.parent is None:
        session.info.pop("wangge.write_lock", None)
