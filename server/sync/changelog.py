"""The write lock that keeps the change log in commit order.

The change log is the history itself (records.models.RecordChange): pull cursors are its ids. If two transactions
could append concurrently, the one holding the lower id might commit after a device had already pulled past the
higher one, and its change would be skipped forever. So every writer takes one database-wide write lock before it
writes a history entry: SQLite's own (BEGIN IMMEDIATE) or a PostgreSQL transaction-level advisory lock. Held until
commit, it makes id order equal commit order.
"""
from __future__ import annotations

import fcntl
import os

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
            session.info["wangge.writer_file"] = _wait_for_other_writers(connection.engine.url.database)
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
    session.info["wangge.write_lock"] = True


def _wait_for_other_writers(database: str | None) -> int | None:
    """Queue behind the writer that holds the database, if any, on an OS file lock beside it.

    SQLite's own wait for its write lock is a poll that sleeps 1, 2, 5, 10, ... up to 100 ms between tries, so a
    push waiting behind another woke up to several milliseconds after the lock was free: two tablets pushing at
    once were hardly faster than one. flock wakes the next writer the moment the last one ends its transaction
    (and the OS releases it if that process dies). Writers that do not come through here still meet SQLite's own
    lock, as before."""
    if not database or database == ":memory:":
        return None
    descriptor = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


@event.listens_for(Session, "after_transaction_end")
def _forget_lock(session, transaction) -> None:
    # The lock ends with the outermost transaction (commit or rollback); savepoints inside it keep it.
    if transaction.parent is None:
        session.info.pop("wangge.write_lock", None)
        descriptor = session.info.pop("wangge.writer_file", None)
        if descriptor is not None:
            os.close(descriptor)  # closing releases the flock
