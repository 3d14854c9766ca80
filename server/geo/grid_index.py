"""A per-revision in-memory map from grid code to its id and hierarchy codes, for fast record writes."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from .models import Community, District, Grid, Street
from .revision import app_cache, current_revision


@dataclass(frozen=True)
class GridInfo:
    id: int
    code: str
    community_code: str
    street_code: str
    district_code: str


def _build() -> dict[str, GridInfo]:
    rows = db.session.execute(
        select(Grid.id, Grid.code, Community.code, Street.code, District.code)
        .join(Community, Grid.community_id == Community.id)
        .join(Street, Community.street_id == Street.id)
        .join(District, Street.district_id == District.id)
        .where(Grid.retired_at.is_(None))
    ).all()
    return {row[1]: GridInfo(*row) for row in rows}


def grid_info(code: str, revision: str | None = None) -> GridInfo | None:
    return app_cache("grid_index").get(revision or current_revision(), (), _build).get(code)
