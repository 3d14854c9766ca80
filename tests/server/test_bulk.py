"""insert_tuples stores exactly what SQLAlchemy's insert(table) stores, on both backends."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, text

from server.bulk import _SQLITE_DATETIME, insert_tuples, sqlite_datetime
from server.extensions import db
from server.records.models import AuditEvent
from server.timeutil import aware

AT = datetime(2026, 11, 27, 8, 30, 15, 123456, tzinfo=timezone.utc)


def insert_rows(table, rows: list[dict]) -> None:
    """The dicts that Core's insert takes, handed to insert_tuples as tuples of their keys' columns."""
    names = tuple(rows[0]) if rows else ()
    insert_tuples(table, names, [tuple(row[name] for name in names) for row in rows])


def _rows(action: str) -> list[dict]:
    # A repeated time (converted once), distinct times, nulls, and JSON with Chinese text, nesting and numbers.
    return [{"at": AT, "user_id": None, "device_id": None, "action": action, "record_id": None,
             "detail": {"名字": "张三", "n": [1, 2.5, None, True], "nested": {"k": "v"}}},
            {"at": AT, "user_id": None, "device_id": None, "action": action, "record_id": "r-2", "detail": None},
            {"at": AT + timedelta(days=400, microseconds=1), "user_id": None, "device_id": None, "action": action,
             "record_id": None, "detail": ["列表", {}]}]


def test_stored_values_are_those_of_a_core_insert(empty_app):
    with empty_app.app_context():
        insert_rows(AuditEvent.__table__, _rows("bulk"))
        db.session.execute(insert(AuditEvent.__table__), _rows("core"))
        db.session.commit()
        # Compare what the database holds, read back through the ORM and as the raw stored text.
        by_action = {}
        for event in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)):
            by_action.setdefault(event.action, []).append((aware(event.at), event.record_id, event.detail))
        assert by_action["bulk"] == by_action["core"]
        assert by_action["bulk"][0][0] == AT and by_action["bulk"][0][2]["名字"] == "张三"
        raw = db.session.execute(text("SELECT action, CAST(at AS TEXT) FROM audit_events ORDER BY id")).all()
        assert [at for action, at in raw if action == "bulk"] == [at for action, at in raw if action == "core"]


def test_rows_go_in_order_with_generated_ids(empty_app):
    with empty_app.app_context():
        insert_rows(AuditEvent.__table__, [
            {"at": AT, "user_id": None, "device_id": None, "action": "order", "record_id": f"r-{n}", "detail": None}
            for n in range(5)])
        db.session.commit()
        entries = db.session.execute(db.select(AuditEvent.id, AuditEvent.record_id)
                                     .order_by(AuditEvent.id)).all()
        assert [record_id for _, record_id in entries] == [f"r-{n}" for n in range(5)]


def test_a_missing_column_with_a_default_is_a_programming_error(empty_app):
    with empty_app.app_context():
        insert_rows(AuditEvent.__table__, [])  # nothing to do
        with pytest.raises(ValueError, match="at"):
            insert_rows(AuditEvent.__table__, [{"action": "x"}])


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                           timezones=st.none() | st.timezones()))
def test_the_quick_sqlite_datetime_text_is_sqlalchemys(moment):
    assert sqlite_datetime(moment) == _SQLITE_DATETIME(moment)


def test_the_quick_sqlite_datetime_text_of_dates_and_nulls_is_sqlalchemys():
    assert sqlite_datetime(None) is None
    assert sqlite_datetime(date(2026, 11, 27)) == _SQLITE_DATETIME(date(2026, 11, 27)) == "2026-11-27 00:00:00.000000"


def test_sqlite_rows_beyond_one_statements_parameters_go_in_several_statements_in_order(tmp_path):
    """Rows go in as multi-row INSERTs of as many rows as SQLite takes parameters for: with the limit lowered
    to 20 (three audit rows of six columns a statement), ten rows still all go in, in order."""
    import sqlite3

    from server import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'bulk.db'}", "TESTING": True})
    with app.app_context():
        db.create_all()
        statements = []
        connection = db.session.connection()
        connection.connection.dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 20)
        connection.connection.dbapi_connection.set_trace_callback(statements.append)
        insert_rows(AuditEvent.__table__, [{"at": AT, "user_id": None, "device_id": None, "action": "many",
                                            "record_id": f"r-{n}", "detail": {"n": n}} for n in range(10)])
        connection.connection.dbapi_connection.set_trace_callback(None)
        db.session.commit()
        rows = db.session.execute(db.select(AuditEvent.record_id, AuditEvent.detail).order_by(AuditEvent.id)).all()
        assert [(record_id, detail["n"]) for record_id, detail in rows] == [(f"r-{n}", n) for n in range(10)]
        assert len([sql for sql in statements if sql.startswith("INSERT INTO audit_events")]) == 4  # 3+3+3+1
        db.session.remove()
        db.engine.dispose()
