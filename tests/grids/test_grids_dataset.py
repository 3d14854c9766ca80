"""The shipped dataset (grids/yichang.geojson) and the generator that writes it."""

from __future__ import annotations

import json
import math
import re
import statistics
import time
from collections import Counter, defaultdict

import pytest
import shapely
from shapely.geometry import shape

from grids import DATASET_PATH
from grids.generate import generate, main as generate_main
from grids.validate import validate_path

# From /work/shared/design/grids.md: street code -> (district code, district name, street name, communities).
STREETS = {
    "420502001": ("420502", "西陵区", "西陵街道", 14),
    "420502002": ("420502", "西陵区", "学院街道", 18),
    "420502003": ("420502", "西陵区", "云集街道", 12),
    "420502004": ("420502", "西陵区", "西坝街道", 7),
    "420502005": ("420502", "西陵区", "葛洲坝街道", 10),
    "420502006": ("420502", "西陵区", "夜明珠街道", 12),
    "420502200": ("420502", "西陵区", "窑湾乡", 2),
    "420503001": ("420503", "伍家岗区", "大公桥街道", 8),
    "420503002": ("420503", "伍家岗区", "万寿桥街道", 8),
    "420503003": ("420503", "伍家岗区", "宝塔河街道", 12),
    "420503004": ("420503", "伍家岗区", "伍家岗街道", 13),
    "420504001": ("420504", "点军区", "点军街道", 5),
}
PROPERTY_ORDER = ["grid_code", "grid_name", "community_code", "community_name", "street_code", "street_name",
                  "district_code", "district_name", "households"]


@pytest.fixture(scope="module")
def features(shipped) -> list[dict]:
    return shipped["features"]


@pytest.fixture(scope="module")
def props(features) -> list[dict]:
    return [f["properties"] for f in features]


def km2(geom) -> float:
    return geom.area * 110_574 * 111_320 * math.cos(math.radians(geom.centroid.y)) / 1e6


def test_validates_strictly_without_any_problem():
    started = time.perf_counter()
    report = validate_path(DATASET_PATH, strict=True)
    elapsed = time.perf_counter() - started
    assert report.problems == []
    assert len(report.grids) == 1110
    assert elapsed < 2.0, f"validation took {elapsed:.2f} s"


def test_counts(props):
    assert len(props) == 1110
    per_community = Counter(p["community_code"] for p in props)
    assert len(per_community) == 121
    assert all(5 <= n <= 14 for n in per_community.values())
    assert len(set(per_community.values())) > 5          # the counts really vary


def test_streets_and_districts_match_the_table(props):
    communities_per_street: dict[str, set[str]] = defaultdict(set)
    for p in props:
        district, district_name, street_name, _ = STREETS[p["street_code"]]
        assert (p["district_code"], p["district_name"]) == (district, district_name)
        assert p["street_name"] == street_name
        communities_per_street[p["street_code"]].add(p["community_code"])
    assert {s: len(c) for s, c in communities_per_street.items()} == {s: v[3] for s, v in STREETS.items()}


def test_codes(props):
    codes = [p["grid_code"] for p in props]
    assert len(set(codes)) == len(codes)
    for p in props:
        assert re.fullmatch(r"[0-9]{15}", p["grid_code"])
        assert p["grid_code"].startswith(p["community_code"])
        assert p["community_code"].startswith(p["street_code"])
        assert p["street_code"].startswith(p["district_code"])
        assert p["grid_name"] == f"{p['community_name']}第{int(p['grid_code'][-3:])}网格"


def test_sequences_are_contiguous_from_001(props):
    grids: dict[str, list[int]] = defaultdict(list)
    communities: dict[str, set[int]] = defaultdict(set)
    for p in props:
        grids[p["community_code"]].append(int(p["grid_code"][12:]))
        communities[p["street_code"]].add(int(p["community_code"][9:]))
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in grids.values())
    assert all(seqs == set(range(1, len(seqs) + 1)) for seqs in communities.values())


def test_properties_and_households(props):
    for p in props:
        assert list(p) == PROPERTY_ORDER
        assert type(p["households"]) is int and 300 <= p["households"] <= 500


def test_rings_ccw_rounded_and_inside_the_city(features):
    text = DATASET_PATH.read_text(encoding="utf-8")
    assert not re.search(r"\d\.\d{7,}", text)
    for f in features:
        assert f["geometry"]["type"] == "Polygon" and len(f["geometry"]["coordinates"]) == 1
        ring = f["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1]
        assert shapely.is_ccw(shapely.linearrings(ring))
        for lon, lat in ring:
            assert round(lon, 6) == lon and round(lat, 6) == lat
            assert 111.24 <= lon <= 111.50 and 30.48 <= lat <= 30.77


def test_grid_sizes(features):
    areas = [km2(shape(f["geometry"])) for f in features]
    assert 0.05 <= statistics.median(areas) <= 0.15
    assert min(areas) >= 0.04 and max(areas) <= 0.2


def test_numbering_west_to_east_then_north_to_south(features):
    by_community: dict[str, list] = defaultdict(list)
    for f in features:   # file order is sequence order (checked above)
        by_community[f["properties"]["community_code"]].append(shape(f["geometry"]))
    for code, shapes in by_community.items():
        rows: list[list] = [[shapes[0]]]
        for previous, current in zip(shapes, shapes[1:]):
            _, south, _, north = previous.bounds
            if current.centroid.x > previous.centroid.x and south < current.centroid.y < north:
                rows[-1].append(current)          # next grid east in the same row
            else:
                rows.append([current])            # a new row must lie wholly south of the last one
                assert max(g.centroid.y for g in rows[-1]) < min(g.centroid.y for g in rows[-2]), code
        for upper, lower in zip(rows, rows[1:]):
            assert min(g.centroid.y for g in upper) > max(g.centroid.y for g in lower), code
            assert all(a.touches(b) for a, b in zip(upper, upper[1:])), code


def test_districts_tile_and_sit_plausibly(features):
    by_district: dict[str, list] = defaultdict(list)
    for f in features:
        by_district[f["properties"]["district_code"]].append(shape(f["geometry"]))
    unions = {code: shapely.union_all(shapes) for code, shapes in by_district.items()}
    for code, union in unions.items():
        assert union.geom_type == "Polygon" and not union.interiors, code
    xiling, wujiagang, dianjun = unions["420502"], unions["420503"], unions["420504"]
    assert xiling.touches(wujiagang)
    assert not dianjun.intersects(xiling) and not dianjun.intersects(wujiagang)   # across the river
    assert wujiagang.centroid.y < xiling.centroid.y and wujiagang.centroid.x > xiling.centroid.x
    assert dianjun.centroid.x < xiling.centroid.x


def test_file_layout_one_feature_per_line():
    raw = DATASET_PATH.read_bytes()
    assert raw.endswith(b"]}\n") and b"\r" not in raw
    lines = raw.decode("utf-8").split("\n")
    assert lines[0].startswith('{"type":"FeatureCollection","name":') and lines[0].endswith('"features":[')
    body = lines[1:-2]
    assert len(body) == 1110 and lines[-2] == "]}" and lines[-1] == ""
    for line in body:
        assert json.loads(line.rstrip(","))["type"] == "Feature"
    assert "西陵区" in lines[1]                     # ensure_ascii=False
    assert "illustrative" in json.loads(raw)["description"].lower()


def test_generator_is_deterministic_and_matches_the_committed_file(tmp_path, capsys):
    first, second = tmp_path / "a.geojson", tmp_path / "b.geojson"
    generate(first)
    assert generate_main(["--out", str(second)]) == 0
    assert "1110 grids" in capsys.readouterr().out
    assert first.read_bytes() == second.read_bytes() == DATASET_PATH.read_bytes()
