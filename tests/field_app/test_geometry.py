"""Point in grid without shapely on the tablet, checked against shapely on the real grid polygons and random ones."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape

from field_app.core.geometry import contains
from grids import DATASET_PATH

SQUARE_WITH_HOLE = {"type": "Polygon", "coordinates": [
    [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
    [[3, 3], [3, 7], [7, 7], [7, 3], [3, 3]]]}


def test_holes_and_multipolygons():
    assert contains(SQUARE_WITH_HOLE, 1, 1) and not contains(SQUARE_WITH_HOLE, 5, 5)
    assert not contains(SQUARE_WITH_HOLE, 11, 5)
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE_WITH_HOLE["coordinates"],
                                                      [[[20, 20], [30, 20], [30, 30], [20, 20]]]]}
    assert contains(multi, 25, 21) and contains(multi, 1, 9) and not contains(multi, 21, 29)
    assert contains({"type": "Feature", "geometry": SQUARE_WITH_HOLE, "properties": {}}, 9, 9)
    assert not contains({"type": "Point", "coordinates": [1, 1]}, 1, 1)


@pytest.fixture(scope="module")
def grid_shapes():
    features = json.loads(DATASET_PATH.read_text(encoding="utf-8"))["features"][:60]
    return [(f["geometry"], shape(f["geometry"])) for f in features]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_agrees_with_shapely_on_real_grids(grid_shapes, data):
    geometry, reference = grid_shapes[data.draw(st.integers(0, len(grid_shapes) - 1))]
    minx, miny, maxx, maxy = reference.bounds
    lon = data.draw(st.floats(minx - 0.001, maxx + 0.001))
    lat = data.draw(st.floats(miny - 0.001, maxy + 0.001))
    point = Point(lon, lat)
    if reference.exterior.distance(point) < 1e-9:
        return                                    # on the boundary either answer is right
    assert contains(geometry, lon, lat) == reference.contains(point)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50)), min_size=3, max_size=9),
       st.floats(-60, 60), st.floats(-60, 60))
def test_agrees_with_shapely_on_random_valid_polygons(points, lon, lat):
    from shapely.geometry import Polygon
    from shapely.geometry.polygon import orient

    polygon = Polygon(points)
    if not polygon.is_valid or polygon.area < 1e-6:
        return
    polygon = orient(polygon)
    point = Point(lon, lat)
    if polygon.boundary.distance(point) < 1e-7:
        return
    geometry = {"type": "Polygon", "coordinates": [list(map(list, polygon.exterior.coords))]}
    assert contains(geometry, lon, lat) == polygon.contains(point)
