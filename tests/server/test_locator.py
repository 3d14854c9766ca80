"""The raster locator must give exactly the brute-force answer, including on shared edges and vertices."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from grids import DATASET_PATH
from server.geo.locator import GridLocator

FEATURES = json.loads(DATASET_PATH.read_text(encoding="utf-8"))["features"]


@pytest.fixture(scope="module")
def locator():
    return GridLocator.from_geojson((f["properties"]["grid_code"], f["geometry"]) for f in FEATURES)


@settings(max_examples=400, deadline=None)
@given(lon=st.floats(111.23, 111.51), lat=st.floats(30.47, 30.78))
def test_random_points_match_brute_force(locator, lon, lat):
    assert locator.locate(lon, lat) == locator.locate_brute_force(lon, lat)


def test_vertices_and_edge_midpoints_resolve_to_the_lowest_code(locator):
    checked = 0
    for feature in FEATURES[::7]:
        ring = feature["geometry"]["coordinates"][0]
        for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
            assert locator.locate(x1, y1) == locator.locate_brute_force(x1, y1) is not None
            # A rounded midpoint may fall a hair outside an outer edge; it must still agree with brute force.
            middle = ((x1 + x2) / 2, (y1 + y2) / 2)
            assert locator.locate(*middle) == locator.locate_brute_force(*middle)
            checked += 1
    assert checked > 1000


def test_points_far_away_and_an_empty_locator():
    assert GridLocator([], []).locate(111.3, 30.7) is None
    small = GridLocator(["420502001001001"], [box(111.0, 30.0, 111.001, 30.001)])
    assert small.locate(111.0005, 30.0005) == "420502001001001"
    assert small.locate(111.0015, 30.0005) is None
    assert small.locate(-10, 95) is None
