"""Reading the grid registry: GeoJSON features and collections, the community tree, point location."""
from __future__ import annotations

import json

import geojson
from shapely.geometry import box, shape
from sqlalchemy import func, select

from ..errors import NotFound
from ..extensions import db
from ..http import Rendered, etag_for, render
from .locator import GridLocator
from .models import Community, District, Grid, Street
from .revision import app_cache, current_revision

FEATURE_COLUMNS = (
    Grid.code, Grid.name, Grid.households, Grid.geometry,
    Grid.min_lon, Grid.min_lat, Grid.max_lon, Grid.max_lat,
    Community.code.label("community_code"), Community.name.label("community_name"),
    Street.code.label("street_code"), Street.name.label("street_name"),
    District.code.label("district_code"), District.name.label("district_name"),
)


def _active_grids(*columns):
    return (
        select(*columns)
        .join(Community, Grid.community_id == Community.id)
        .join(Street, Community.street_id == Street.id)
        .join(District, Street.district_id == District.id)
        .where(Grid.retired_at.is_(None))
    )


def _feature(row) -> geojson.Feature:
    properties = {
        "code": row.code, "name": row.name,
        "community_code": row.community_code, "community_name": row.community_name,
        "street_code": row.street_code, "street_name": row.street_name,
        "district_code": row.district_code, "district_name": row.district_name,
        "households": row.households,
    }
    geometry = geojson.GeoJSON.to_instance(json.loads(row.geometry), strict=True)
    return geojson.Feature(id=row.code, geometry=geometry, properties=properties,
                           bbox=[row.min_lon, row.min_lat, row.max_lon, row.max_lat])


def _filtered_rows(filters: dict) -> list:
    query = _active_grids(*FEATURE_COLUMNS).order_by(Grid.code)
    for key, column in (("district", District.code), ("street", Street.code), ("community", Community.code)):
        if filters.get(key):
            query = query.where(column == filters[key])
    if filters.get("bbox"):
        min_lon, min_lat, max_lon, max_lat = filters["bbox"]
        # Cheap bounding-box overlap in SQL, then the exact test in shapely.
        query = query.where(Grid.max_lon >= min_lon, Grid.min_lon <= max_lon,
                            Grid.max_lat >= min_lat, Grid.min_lat <= max_lat)
    rows = db.session.execute(query).all()
    if filters.get("bbox"):
        window = box(*filters["bbox"])
        rows = [row for row in rows if shape(json.loads(row.geometry)).intersects(window)]
    return rows


def _dump(obj) -> bytes:
    return geojson.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def collection_etag(filters: dict) -> tuple[str, str]:
    """(revision, etag) for a filtered collection, computed without reading any grid."""
    revision = current_revision()
    canonical = json.dumps({k: filters[k] for k in sorted(filters)}, default=list)
    return revision, etag_for("grids", revision, canonical)


def grid_collection(filters: dict, revision: str) -> Rendered:
    key = tuple(sorted((k, str(v)) for k, v in filters.items()))

    def build() -> Rendered:
        features = [_feature(row) for row in _filtered_rows(filters)]
        return render(_dump(geojson.FeatureCollection(features)))

    return app_cache("collections").get(revision, key, build)


def grid_feature(code: str) -> geojson.Feature:
    row = db.session.execute(_active_grids(*FEATURE_COLUMNS).where(Grid.code == code)).first()
    if row is None:
        raise NotFound(f"No grid has the code {code}.", {"code": ["unknown grid code"]})
    return _feature(row)


def locator() -> GridLocator:
    revision = current_revision()

    def build() -> GridLocator:
        rows = db.session.execute(_active_grids(Grid.code, Grid.geometry)).all()
        return GridLocator.from_geojson((row.code, json.loads(row.geometry)) for row in rows)

    return app_cache("locators").get(revision, (), build)


def locate(lon: float, lat: float) -> geojson.Feature:
    code = locator().locate(lon, lat)
    if code is None:
        raise NotFound(f"The point ({lon}, {lat}) is not inside any grid.", {"lon": ["outside every grid"],
                                                                             "lat": ["outside every grid"]})
    return grid_feature(code)


def community_tree() -> dict:
    """District > street > community, each with its count of active grids and estimated households."""
    counts = {
        row.community_id: (row.grids, row.households or 0)
        for row in db.session.execute(
            select(Grid.community_id, func.count(Grid.id).label("grids"),
                   func.sum(Grid.households).label("households"))
            .where(Grid.retired_at.is_(None)).group_by(Grid.community_id)
        )
    }
    districts = []
    for district in db.session.scalars(select(District).order_by(District.code)):
        streets = []
        for street in sorted(district.streets, key=lambda s: s.code):
            communities = [
                {"code": c.code, "name": c.name, "grid_count": counts.get(c.id, (0, 0))[0],
                 "households": counts.get(c.id, (0, 0))[1]}
                for c in sorted(street.communities, key=lambda c: c.code)
            ]
            streets.append({"code": street.code, "name": street.name,
                            "grid_count": sum(c["grid_count"] for c in communities),
                            "community_count": len(communities), "communities": communities})
        districts.append({"code": district.code, "name": district.name,
                          "grid_count": sum(s["grid_count"] for s in streets),
                          "community_count": sum(s["community_count"] for s in streets), "streets": streets})
    return {
        "grid_count": sum(d["grid_count"] for d in districts),
        "community_count": sum(d["community_count"] for d in districts),
        "districts": districts,
    }
