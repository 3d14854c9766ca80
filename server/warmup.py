"""Warming a freshly started worker up before it takes requests.

A new gunicorn worker used to pay its one-time work inside its first requests: compiling the categories' fast
checks, loading the grid index, and SQLAlchemy compiling the statements of authentication and of a push. The first
push to each worker took about twice as long as the next ones (35 ms more for 500 records), so the first tablet to
sync after a restart waited for it. gunicorn.conf.py calls `warm_up` once per worker, after the app is loaded.

Everything here only reads. A database that is not reachable or not migrated yet is logged and skipped: the worker
then warms up in its first requests, as before.
"""
from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from .accounts.tokens import find_credentials
from .extensions import db
from .geo.grid_index import grid_info
from .records.categories import catalogue
from .sync import services as sync

log = logging.getLogger(__name__)


def warm_up(app: Flask) -> bool:
    """Returns whether the database part ran (the compiled checks are always built)."""
    for category in catalogue().categories.values():
        category.fast_check  # noqa: B018  (a cached property: building it is the point)
    with app.app_context():
        try:
            grid_info("")  # loads the index of the current grid revision
            find_credentials("warm-up")  # no such token
            sync.warm_up()
            return True
        except SQLAlchemyError:
            log.warning("warm-up skipped the database; the first requests will do it", exc_info=True)
            return False
        finally:
            db.session.rollback()
            db.session.remove()
