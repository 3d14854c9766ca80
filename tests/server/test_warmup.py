"""A new worker warms up before its first request: compiled checks, the grid index, the hot statements."""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import event

from grids import DATASET_PATH
from server import create_app
from server.extensions import db
from server.geo.grid_index import grid_info
from server.geo.importer import import_file
from server.records.categories import catalogue
from server.warmup import warm_up

ROOT = Path(__file__).resolve().parents[2]


def _statements_of(app, action) -> list[str]:
    """The SQL that `action` runs inside an app context."""
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            action()
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    return seen


def _grid_app(make_app):
    app = make_app()
    with app.app_context():
        import_file(DATASET_PATH)
    return app


def test_a_warmed_up_worker_has_its_grid_index_and_compiled_checks(make_app):
    app = _grid_app(make_app)
    assert warm_up(app) is True
    assert all("fast_check" in vars(category) for category in catalogue().categories.values())
    # The index was loaded by the warm-up: a first lookup now reads only the revision, not the grids.
    statements = _statements_of(app, lambda: grid_info("420502001001001"))
    assert statements and not any("FROM grids" in sql for sql in statements)


def test_gunicorn_warms_each_worker_up_after_loading_the_app(make_app):
    app = _grid_app(make_app)
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    conf.post_worker_init(SimpleNamespace(wsgi=app))  # gunicorn passes the worker; the hook reads its app
    statements = _statements_of(app, lambda: grid_info("420502001001001"))
    assert not any("FROM grids" in sql for sql in statements)


def test_a_database_that_is_not_ready_is_skipped_with_a_warning(tmp_path, caplog):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}", "TESTING": True})
    with caplog.at_level(logging.WARNING, logger="server.warmup"):
        assert warm_up(app) is False
    assert "warm-up skipped the database" in caplog.text
