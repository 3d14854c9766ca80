"""Loading a grid GeoJSON file: validate everything first, then write everything in one transaction.

Idempotent: a grid is matched by its code, so re-importing updates rows in place and keeps their ids (records refer
to them). Grids absent from the file are kept unless retirement is asked for, since a partial file must not wipe a city.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from grids.validate import GridRecord, Problem, validate_text

from ..errors import Unprocessable
from ..extensions import db
from .models import Community, District, Grid, GridImport, Street, utcnow

Progress = Callable[[int, int], None]  # (grids written so far, grids in the file)


class ImportRejected(Unprocessable):
    code = "import_rejected"

    def __init__(self, problems: list[Problem]):
        super().__init__(f"The grid file was rejected with {len(problems)} problem(s); nothing was changed.",
                         {"file": [str(p) for p in problems]})
        self.problems = problems


@dataclass
class ImportResult:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    kept_missing: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def import_file(path: str | Path, *, retire_missing: bool = False, progress: Progress | None = None) -> ImportResult:
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ImportRejected([Problem(rule="json", message=f"cannot read {path}: {error.strerror}")]) from error
    report = validate_text(raw)
    if not report.ok:
        raise ImportRejected(report.errors)
    result = ImportResult(total=len(report.grids), warnings=report.warnings)
    try:
        _write(report.grids, result, retire_missing, progress)
        db.session.add(GridImport(source=str(path)[-512:], sha256=hashlib.sha256(raw).hexdigest(),
                                  total=result.total, created=result.created, updated=result.updated,
                                  unchanged=result.unchanged, retired=result.retired))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result


def _write(records: list[GridRecord], result: ImportResult, retire_missing: bool, progress: Progress | None):
    districts = {d.code: d for d in db.session.scalars(select(District))}
    streets = {s.code: s for s in db.session.scalars(select(Street))}
    communities = {c.code: c for c in db.session.scalars(select(Community))}
    grids = {g.code: g for g in db.session.scalars(select(Grid))}

    for index, record in enumerate(records):
        district = _upsert(districts, District, record.district_code, name=record.district_name)
        street = _upsert(streets, Street, record.street_code, name=record.street_name, district=district)
        community = _upsert(communities, Community, record.community_code,
                            name=record.community_name, street=street)
        _upsert_grid(grids, record, community, result)
        if progress:
            progress(index + 1, len(records))

    seen = {record.code for record in records}
    for code, grid in grids.items():
        if code in seen or grid.retired_at is not None:
            continue
        if retire_missing:
            grid.retired_at = utcnow()
            result.retired += 1
        else:
            result.kept_missing.append(code)
    db.session.flush()


def _upsert(index: dict, model, code: str, **values):
    row = index.get(code)
    if row is None:
        row = index[code] = model(code=code, **values)
        db.session.add(row)
    else:
        for key, value in values.items():
            if getattr(row, key) is not value and getattr(row, key) != value:
                setattr(row, key, value)
    return row


def _upsert_grid(grids: dict, record: GridRecord, community: Community, result: ImportResult) -> None:
    values = {
        "name": record.name, "community": community, "households": record.households,
        "geometry": json.dumps(record.geometry, separators=(",", ":")),
        "min_lon": record.bbox[0], "min_lat": record.bbox[1], "max_lon": record.bbox[2], "max_lat": record.bbox[3],
        "retired_at": None,
    }
    grid = grids.get(record.code)
    if grid is None:
        grids[record.code] = grid = Grid(code=record.code, **values)
        db.session.add(grid)
        result.created += 1
        return
    changed = {key: value for key, value in values.items() if getattr(grid, key) != value}
    if not changed:
        result.unchanged += 1
        return
    for key, value in changed.items():
        setattr(grid, key, value)
    grid.updated_at = utcnow()
    result.updated += 1
