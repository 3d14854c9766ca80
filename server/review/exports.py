"""Exports of the records in scope as CSV and GeoJSON, streamed in batches.

Which content fields a row carries is decided by records.queries.visible_content (the one rule): city viewers get
no personal fields (parties, persons served, agreement text). Integrity concerns are never exported here.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from sqlalchemy import select

from ..accounts.auth import Principal
from ..accounts.models import User
from ..extensions import db
from ..records.categories import catalogue
from ..records.models import Record
from ..records.queries import field_policy, open_categories, visible_content
from ..timeutil import iso
from .queue import filter_conditions

EXPORT_ROLES = ("supervisor", "admin", "inspector", "city_viewer")
META_COLUMNS = ("id", "category", "status", "status_comment", "grid_code", "community_code", "street_code",
                "district_code", "urgency", "version", "occurred_at", "received_at", "updated_at", "created_by",
                "lon", "lat", "open_conflicts")
BATCH = 1000


def content_columns(principal: Principal) -> list[str]:
    """Content fields of the exported categories, in catalogue order, without those the principal may not see."""
    columns: list[str] = []
    for key in open_categories():
        policy = field_policy(key, principal)
        for spec in catalogue().get(key).definition["fields"]:
            if spec["name"] not in columns and policy.keep(spec["name"]) and not spec.get("confidential"):
                columns.append(spec["name"])
    return columns


def _rows(principal: Principal, filters: dict) -> Iterator[tuple[Record, str]]:
    conditions = filter_conditions(principal, filters, confidential=False)
    query = (select(Record, User.username).join(User, Record.created_by_id == User.id).where(*conditions)
             .order_by(Record.received_at.desc(), Record.id.desc()).execution_options(yield_per=BATCH))
    for record, username in db.session.execute(query):
        yield record, username


def _meta(record: Record, username: str) -> dict:
    return {"id": record.id, "category": record.category, "status": record.status,
            "status_comment": record.status_comment, "grid_code": record.grid_code,
            "community_code": record.community_code, "street_code": record.street_code,
            "district_code": record.district_code, "urgency": record.urgency, "version": record.version,
            "occurred_at": iso(record.occurred_at), "received_at": iso(record.received_at),
            "updated_at": iso(record.updated_at), "created_by": username, "lon": record.lon, "lat": record.lat,
            "open_conflicts": record.open_conflicts}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def csv_lines(principal: Principal, filters: dict) -> Iterator[str]:
    """The CSV text in chunks: a UTF-8 BOM (so spreadsheet programs read Chinese), a header, one line per record."""
    columns = content_columns(principal)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*META_COLUMNS, *columns])
    yield "\ufeff" + _drain(buffer)
    for count, (record, username) in enumerate(_rows(principal, filters), 1):
        fields = visible_content(record, principal)["fields"]
        meta = _meta(record, username)
        writer.writerow([_cell(meta[name]) for name in META_COLUMNS] + [_cell(fields.get(name)) for name in columns])
        if count % 200 == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def geojson_chunks(principal: Principal, filters: dict) -> Iterator[str]:
    """An RFC 7946 FeatureCollection: a Point per located record (null geometry otherwise)."""
    yield '{"type": "FeatureCollection", "features": ['
    first = True
    for record, username in _rows(principal, filters):
        geometry = ({"type": "Point", "coordinates": [record.lon, record.lat]}
                    if record.lon is not None and record.lat is not None else None)
        feature = {"type": "Feature", "id": record.id, "geometry": geometry,
                   "properties": {**_meta(record, username), "fields": visible_content(record, principal)["fields"]}}
        yield ("" if first else ",\n") + json.dumps(feature, ensure_ascii=False)
        first = False
    yield "]}\n"
