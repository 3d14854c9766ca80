"""The write lock on SQLite: writers queue on a file lock beside the database, released when their transaction ends."""
from __future__ import annotations

import fcntl
import os
import threading

from server import create_app
from server.extensions import db
from server.sync.changelog import lock_for_writing


def _app(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'lock.db'}", "TESTING": True})
    with app.app_context():
        db.create_all()
        db.session.remove()
    return app


def _file_lock_is_free(tmp_path) -> bool:
    descriptor = os.open(tmp_path / "lock.db-writer.lock", os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)


def test_a_second_writer_waits_for_the_first_to_commit_then_goes_on(tmp_path):
    app = _app(tmp_path)
    events, holding, done = [], threading.Event(), threading.Event()

    def first():
        with app.app_context():
            lock_for_writing()
            events.append("first locked")
            holding.set()
            done.wait(10)
            events.append("first commits")
            db.session.commit()
            db.session.remove()

    def second():
        holding.wait(10)
        with app.app_context():
            lock_for_writing()  # blocks on the file lock until the first transaction ends
            events.append("second locked")
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    holding.wait(10)
    threads[1].join(0.3)
    assert threads[1].is_alive() and events == ["first locked"]  # still queued behind the first
    assert not _file_lock_is_free(tmp_path)  # the queue is the OS file lock, not SQLite's polling
    done.set()
    for thread in threads:
        thread.join(10)
    assert events == ["first locked", "first commits", "second locked"]
    assert _file_lock_is_free(tmp_path)  # released with the transactions


def test_a_rolled_back_writer_lets_the_next_one_in(tmp_path):
    app = _app(tmp_path)
    with app.app_context():
        lock_for_writing()
        db.session.rollback()
    acquired = []

    def writer():
        with app.app_context():
            lock_for_writing()
            acquired.append(True)
            db.session.commit()
            db.session.remove()

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(10)
    assert acquired == [True] and (tmp_path / "lock.db-writer.lock").exists()
