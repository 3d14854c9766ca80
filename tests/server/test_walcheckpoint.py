"""WAL checkpoints in the background: a commit's pages reach the database file without any commit checkpointing."""
from __future__ import annotations

import os
import sqlite3

from server import create_app
from server.extensions import BACKSTOP_PAGES, db
from server.records.models import AuditEvent
from server.walcheckpoint import Checkpointer, checkpointer_for


def _wal_database(path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")  # only the background thread checkpoints here
    connection.execute("CREATE TABLE t (x TEXT)")
    return connection


def test_a_nudge_copies_the_wal_into_the_database_file(tmp_path):
    path = str(tmp_path / "w.db")
    connection = _wal_database(path)
    connection.executemany("INSERT INTO t VALUES (?)", [("网格" * 200,) for _ in range(2000)])
    before = os.path.getsize(path)
    checkpointer = Checkpointer(path, interval_s=0)
    checkpointer.nudge()
    assert checkpointer.wait_idle()
    assert os.path.getsize(path) > before + 1_000_000  # the rows' pages are in the database file now
    # Nothing is left to copy: a checkpoint now finds every frame already backfilled.
    busy, frames, done = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, frames) == (0, done)
    assert connection.execute("SELECT count(*) FROM t").fetchone() == (2000,)


def test_a_checkpoint_that_cannot_run_is_logged_not_raised(tmp_path, caplog):
    assert Checkpointer(str(tmp_path / "missing" / "w.db"), interval_s=0).checkpoint() is None
    assert "background WAL checkpoint" in caplog.text


def test_the_apps_commits_are_checkpointed_in_the_background(tmp_path):
    path = tmp_path / "wangge.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True})
    with app.app_context():
        db.create_all()
        db.session.commit()
        checkpointer_for(str(path)).wait_idle()
        before = os.path.getsize(path)
        for n in range(3):
            db.session.add_all([AuditEvent(action="test", detail={"n": n, "text": "网格" * 300})
                                for _ in range(300)])
            db.session.commit()
        assert db.session.execute(db.text("PRAGMA wal_autocheckpoint")).scalar() == BACKSTOP_PAGES
        assert checkpointer_for(str(path)).wait_idle()
        # The connection's own checkpoint (the backstop) is far away, yet the pages reached the database file.
        assert os.path.getsize(path) > before + 1_000_000
        db.session.remove()
        db.engine.dispose()
