"""The dataset revision, and per-app caches that are thrown away when it changes.

Every gunicorn worker keeps its own caches; asking the database for the newest import row is a sub-millisecond
query, so workers notice another worker's import on their next request without any messaging.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, TypeVar

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from .models import GridImport

T = TypeVar("T")


_NEWEST_IMPORT = select(GridImport.id, GridImport.sha256).order_by(GridImport.id.desc()).limit(1)  # built once


def current_revision() -> str:
    row = db.session.execute(_NEWEST_IMPORT).first()
    # The file hash guards against a rebuilt database reusing an import id for different data.
    return f"{row.id}-{row.sha256[:16]}" if row else "empty"


class RevisionCache(Generic[T]):
    """A small thread-safe LRU whose entries belong to one dataset revision."""

    def __init__(self, maxsize: int = 64):
        self._maxsize = maxsize
        self._entries: OrderedDict[tuple, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, revision: str, key: tuple, build: Callable[[], T]) -> T:
        full_key = (revision, *key)
        with self._lock:
            if full_key in self._entries:
                self._entries.move_to_end(full_key)
                return self._entries[full_key]
        value = build()  # outside the lock: a slow build must not block hits on other keys
        with self._lock:
            self._entries[full_key] = value
            for stale in [k for k in self._entries if k[0] != revision]:
                del self._entries[stale]
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
        return value


def app_cache(name: str) -> RevisionCache:
    caches = current_app.extensions.setdefault("wangge.geo_caches", {})
    if name not in caches:
        caches[name] = RevisionCache()
    return caches[name]
