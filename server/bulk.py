"""Bulk inserts for the sync write path, with less work per row than SQLAlchemy's Core executemany.

Core's executemany builds a parameter dict for every row and runs every value through its column type's bind
processor; for a push of 500 records into four tables that was a fifth of the request. On SQLite, `insert_rows`
looks each column's processor up once, converts a value that repeats (the batch's shared timestamps) once, and
hands the driver plain tuples: the stored values are exactly those `insert(table)` stores (the same processors do
the converting). PostgreSQL keeps SQLAlchemy's own path, whose batched multi-row VALUES matters more there.
"""
from __future__ import annotations

import functools
import operator

from datetime import datetime

from sqlalchemy import JSON, Table, insert
from sqlalchemy.dialects import sqlite

from . import jsontext
from .extensions import db


def insert_rows(table: Table, rows: list[dict]) -> None:
    """INSERT the rows (dicts with the same keys, covering every column without a generated value)."""
    if not rows:
        return
    names = tuple(rows[0])
    getter = operator.itemgetter(*names)
    insert_tuples(table, names, [getter(row) for row in rows] if len(names) > 1 else [(getter(row),) for row in rows])


def insert_tuples(table: Table, names: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT the rows given as tuples of the columns `names`, in that order (the hot path builds them so)."""
    if not rows:
        return
    _require_complete(table, names)  # on every backend, so a mistake cannot hide behind PostgreSQL's defaults
    connection = db.session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite":
        connection.execute(insert(table), [dict(zip(names, row)) for row in rows])
        return
    statement, processors = _plan(table, names, dialect)
    if processors:
        columns = list(zip(*rows))
        for index, process, repeats in processors:
            column = columns[index]
            if repeats:
                converted = {value: process(value) for value in set(column)}
                columns[index] = [converted[value] for value in column]
            else:
                columns[index] = [process(value) for value in column]
        rows = list(zip(*columns))
    connection.exec_driver_sql(statement, rows)


def json_text(value: object) -> str:
    return "null" if value is None else jsontext.dumps(value)


def sqlite_datetime(value: datetime | None) -> str | None:
    """What SQLAlchemy's SQLite DATETIME stores for a datetime ("YYYY-MM-DD HH:MM:SS.ffffff", the offset dropped),
    by isoformat in C rather than its %-format of seven attributes (a microsecond a record)."""
    if value is None or type(value) is not datetime:
        return _SQLITE_DATETIME(value)
    return value.isoformat(" ", "microseconds")[:26]


_SQLITE_DATETIME = sqlite.DATETIME().bind_processor(sqlite.dialect())


@functools.lru_cache(maxsize=64)
def _require_complete(table: Table, names: tuple[str, ...]) -> None:
    """Column defaults are not applied here: every column must have a value, except a generated primary key."""
    missing = [column.name for column in table.columns if column.name not in names
               and not (column.primary_key and column.autoincrement in (True, "auto"))
               and (column.default is not None or column.server_default is not None or not column.nullable)]
    if missing:
        raise ValueError(f"insert_rows into {table.name} needs values for {', '.join(missing)}")


@functools.lru_cache(maxsize=64)
def _plan(table: Table, names: tuple[str, ...], dialect) -> tuple[str, list]:
    """The INSERT, and (position, processor, whether values repeat enough to convert each distinct one once) for
    the columns whose values need converting. JSON documents are never converted once per distinct value (they are
    unhashable), and their processor would only wrap the engine's json_serializer, jsontext.dumps, which is called
    directly."""
    processors = []
    for index, name in enumerate(names):
        impl = table.c[name].type.dialect_impl(dialect)
        if isinstance(table.c[name].type, JSON):
            processors.append((index, json_text, False))
        elif isinstance(impl, sqlite.DATETIME) and impl._storage_format == sqlite.DATETIME._storage_format:
            processors.append((index, sqlite_datetime, True))
        elif (process := impl.bind_processor(dialect)) is not None:
            processors.append((index, process, True))
    quote = dialect.identifier_preparer.quote
    statement = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
                 f"VALUES ({', '.join('?' for _ in names)})")
    return statement, processors
