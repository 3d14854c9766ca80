"""Bulk inserts for the sync write path, with less work per row than SQLAlchemy's Core executemany.

Core's executemany builds a parameter dict for every row and runs every value through its column type's bind
processor; for a push of 500 records into four tables that was a fifth of the request. On SQLite, `insert_tuples`
looks each column's processor up once, converts a value that repeats (the batch's shared timestamps) once, and
inserts the rows with one multi-row INSERT: the stored values are exactly those `insert(table)` stores (the same
processors do the converting). PostgreSQL keeps SQLAlchemy's own path, whose batched multi-row VALUES matters more
there.
"""
from __future__ import annotations

import functools
import itertools
import sqlite3
from datetime import datetime

from sqlalchemy import JSON, Table, insert
from sqlalchemy.dialects import sqlite

from . import jsontext
from .extensions import db


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
    # One statement for many rows (as many as SQLite takes parameters for), rather than executemany's statement
    # a row: the driver then binds once and SQLite steps once, which took about 2 µs off a pushed record.
    per = max(1, _parameter_limit(connection.connection.dbapi_connection) // len(names))
    for start in range(0, len(rows), per):
        part = rows[start:start + per]
        connection.exec_driver_sql(_multi_row(statement, len(names), len(part)),
                                   tuple(itertools.chain.from_iterable(part)))


def _parameter_limit(dbapi_connection) -> int:
    return dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


@functools.lru_cache(maxsize=64)
def _multi_row(statement: str, width: int, count: int) -> str:
    """The single-row INSERT of _plan with `count` rows of `width` placeholders."""
    one = "(" + ", ".join("?" * width) + ")"
    return statement[:statement.rindex(" VALUES ") + len(" VALUES ")] + ", ".join([one] * count)


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
        raise ValueError(f"insert_tuples into {table.name} needs values for {', '.join(missing)}")


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
