"""One test (or more) per validator rule, on small crafted collections."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from shapely.geometry import shape

import grids
from grids.validate import Problem, Report, validate_collection, validate_path, validate_text

REPO_ROOT = Path(grids.__file__).resolve().parents[1]


def only(report: Report, rule: str) -> Problem:
    """The single problem of the given rule (and assert there is exactly one)."""
    found = [p for p in report.problems if p.rule == rule]
    assert len(found) == 1, report.problems
    return found[0]


def ring_of(feature: dict) -> list[list[float]]:
    return feature["geometry"]["coordinates"][0]


# ---------------------------------------------------------------- good input

def test_sample_is_valid_and_normalised(sample, build):
    report = validate_collection(build.collection(sample), strict=True)
    assert report.problems == [] and report.ok
    record = report.grids[0]
    assert record.code == "420502001001001"
    assert (record.community_code, record.street_code, record.district_code) == (
        "420502001001", "420502001", "420502")
    assert record.district_name == "西陵区" and 300 <= record.households <= 500
    assert record.geometry == sample[0]["geometry"]
    xs, ys = zip(*ring_of(sample[0]))
    assert record.bbox == (min(xs), min(ys), max(xs), max(ys))


def test_households_optional_and_extra_properties_ignored(sample, build):
    del sample[0]["properties"]["households"]
    sample[1]["properties"]["households"] = 350.0      # integral float, as GIS exports write it
    sample[2]["properties"]["survey_note"] = "anything"
    report = validate_collection(build.collection(sample), strict=True)
    assert report.ok and report.problems == []
    assert [g.households for g in report.grids][:2] == [None, 350]


def test_normalises_rounding_and_hole_orientation(build):
    outer = [[111.3, 30.7], [111.31, 30.7], [111.31, 30.71], [111.3, 30.71], [111.3, 30.7]]
    hole = [[111.302, 30.702], [111.3041234567, 30.702], [111.304, 30.704], [111.302, 30.702]]  # CCW: wrong
    feature = build.rect(1, outer)
    feature["geometry"]["coordinates"].append(hole)
    report = validate_collection(build.collection([feature]))
    assert report.ok
    assert only(report, "winding").severity == "warning"
    normal_hole = report.grids[0].geometry["coordinates"][1]
    assert normal_hole == [[111.302, 30.702], [111.304, 30.704], [111.304123, 30.702], [111.302, 30.702]]


def test_multipolygon_accepted(build):
    # Parts of a valid MultiPolygon may not share an edge, so this grid has an exclave: the
    # community is then not one piece, which is only a warning.
    a, b = build.square(1, 0, 0), build.square(2, 2, 0)
    parts = [a["geometry"]["coordinates"], b["geometry"]["coordinates"]]
    multi = {"type": "MultiPolygon", "coordinates": parts}
    a["geometry"] = multi
    report = validate_collection(build.collection([a]))
    assert report.ok and report.grids[0].geometry == multi
    assert {p.rule for p in report.problems} == {"gap"}


# ---------------------------------------------------------------- file level

def test_invalid_json_text():
    report = validate_text('{"type": "FeatureCollection",\n "features": [}')
    problem = only(report, "json")
    assert problem.index is None and "invalid JSON at line 2, column" in problem.message
    assert not report.ok and report.grids == []


def test_json_nan_and_non_utf8_rejected():
    assert only(validate_text('{"type": NaN}'), "json").message.startswith("invalid JSON")
    assert "UTF-8" in only(validate_text(b'{"name": "\xff"}'), "json").message


def test_bytes_with_bom_accepted(sample, build):
    text = "\ufeff" + json.dumps(build.collection(sample), ensure_ascii=False)
    assert validate_text(text.encode("utf-8"), strict=True).ok


@pytest.mark.parametrize("data", [[], {"type": "Feature"}, {"type": "FeatureCollection"},
                                  {"type": "FeatureCollection", "features": []}])
def test_not_a_feature_collection(data):
    problem = only(validate_collection(data), "structure")
    assert problem.index is None and "FeatureCollection" in problem.message


def test_feature_without_properties_or_geometry(sample, build):
    sample[1]["properties"] = None
    sample[2] = {"type": "Feature", "properties": sample[2]["properties"]}
    messages = {(p.index, p.message) for p in validate_collection(build.collection(sample)).problems}
    assert (1, "feature has no properties object") in messages
    assert (2, "feature has no geometry object") in messages


def test_projected_crs_rejected(sample, build):
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    assert "EPSG::3857" in only(validate_collection(build.collection(sample, crs=crs)), "structure").message
    crs84 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    assert validate_collection(build.collection(sample, crs=crs84), strict=True).ok


def test_unreadable_path(tmp_path):
    problem = only(validate_path(tmp_path / "missing.geojson"), "structure")
    assert "cannot read" in problem.message and str(problem) == problem.message


# ---------------------------------------------------------------- geometry

@pytest.mark.parametrize("geometry", [{"type": "Point", "coordinates": [111.3, 30.7]},
                                      {"type": "LineString", "coordinates": [[111.3, 30.7], [111.4, 30.7]]}])
def test_wrong_geometry_type(sample, build, geometry):
    sample[1]["geometry"] = geometry
    problem = only(validate_collection(build.collection(sample)), "geometry-type")
    assert (problem.index, problem.code) == (1, "420502001001002")
    assert geometry["type"] in problem.message and "Polygon or MultiPolygon" in problem.message
    assert str(problem).startswith("feature #1 (420502001001002): geometry type")


@pytest.mark.parametrize("ring, words", [
    ([[500123.0, 3390000.0], [500200.0, 3390000.0], [500200.0, 3390100.0], [500123.0, 3390000.0]],
     "not projected"),
    ([[111.3, 30.7], [111.4, 30.7], [111.4, 30.8], [111.3, 30.8]], "not closed"),
    ([[111.3, 30.7], [111.4, 30.7], [111.3, 30.7]], "at least 4"),
    ([[111.3, 30.7], ["111.4", 30.7], [111.4, 30.8], [111.3, 30.7]], "non-numeric"),
])
def test_bad_coordinates(sample, build, ring, words):
    sample[2]["geometry"]["coordinates"] = [ring]
    problem = only(validate_collection(build.collection(sample)), "coordinates")
    assert (problem.index, problem.code) == (2, "420502001001003") and words in problem.message


def test_self_intersecting_bow_tie(build):
    bow_tie = [[111.30, 30.70], [111.31, 30.71], [111.31, 30.70], [111.30, 30.71], [111.30, 30.70]]
    report = validate_collection(build.collection([build.square(1, 0, 0), build.rect(2, bow_tie)]))
    problem = only(report, "invalid-polygon")
    assert (problem.index, problem.code) == (1, "420502001001002")
    assert problem.message.startswith("polygon is invalid: Self-intersection[")


def test_clockwise_ring_warns_normally_and_fails_strict(sample, build):
    original = copy.deepcopy(sample[1]["geometry"])
    ring_of(sample[1]).reverse()
    report = validate_collection(build.collection(sample))
    problem = only(report, "winding")
    assert problem.severity == "warning" and report.ok
    assert (problem.index, problem.code) == (1, "420502001001002")
    assert "clockwise" in problem.message and "RFC 7946" in problem.message
    assert report.grids[1].geometry == original          # re-oriented counter-clockwise
    strict = validate_collection(build.collection(sample), strict=True)
    assert only(strict, "winding").severity == "error" and not strict.ok and strict.grids == []


# ---------------------------------------------------------------- properties and codes

def test_missing_property(sample, build):
    del sample[2]["properties"]["community_name"]
    problem = only(validate_collection(build.collection(sample)), "property")
    assert (problem.index, problem.code) == (2, "420502001001003")
    assert "community_name" in problem.message and "missing" in problem.message


@pytest.mark.parametrize("name, value, words", [("street_name", "  ", "empty"),
                                                ("grid_code", 420502001001003, "must be a string"),
                                                ("households", -3, "non-negative integer"),
                                                ("households", "400", "non-negative integer")])
def test_wrong_property_values(sample, build, name, value, words):
    sample[0]["properties"][name] = value
    problem = only(validate_collection(build.collection(sample)), "property")
    assert problem.index == 0 and name in problem.message and words in problem.message


@pytest.mark.parametrize("code", ["4205020010010", "42050200100A003", "420502001001000",
                                  "４２０５０２００１００１００１"])
def test_bad_grid_code(sample, build, code):
    sample[1]["properties"]["grid_code"] = code
    problem = only(validate_collection(build.collection(sample)), "bad-code")
    assert (problem.index, problem.code) == (1, code)
    assert "grid code" in problem.message and (code in problem.message)


@pytest.mark.parametrize("name, value", [("community_code", "42050200101"), ("street_code", "4205020010"),
                                         ("district_code", "42050A")])
def test_bad_parent_codes(sample, build, name, value):
    sample[0]["properties"][name] = value
    problem = only(validate_collection(build.collection(sample)), "bad-code")
    assert problem.index == 0 and name.replace("_", " ") in problem.message


def test_legacy_14_digit_code(sample, build):
    sample[0]["properties"]["grid_code"] = "42050200100101"
    problem = only(validate_collection(build.collection(sample)), "legacy-code")
    assert (problem.index, problem.code) == (0, "42050200100101")
    assert "CJ/T 213-2005" in problem.message and "not accepted" in problem.message
    assert "GB/T 30428.1" in problem.message and "3-digit grid sequence" in problem.message
    assert "420502001001001" in problem.message      # the zero-padded suggestion


def test_duplicate_code(sample, build):
    sample[2]["properties"]["grid_code"] = sample[0]["properties"]["grid_code"]
    problem = only(validate_collection(build.collection(sample)), "duplicate-code")
    assert (problem.index, problem.code) == (2, "420502001001001")
    assert "#0" in problem.message and "#2" in problem.message


def test_code_not_under_its_community(sample, build):
    sample[1]["properties"]["grid_code"] = "420502001002003"
    problem = only(validate_collection(build.collection(sample)), "code-prefix")
    assert (problem.index, problem.code) == (1, "420502001002003")
    assert problem.message == "grid code 420502001002003 is not under its community 420502001001"


def test_community_not_under_its_street(sample, build):
    sample[0]["properties"]["street_code"] = "420502002"
    problem = only(validate_collection(build.collection(sample)), "code-prefix")
    assert "community code 420502001001 is not under its street 420502002" == problem.message


def test_inconsistent_community_name(sample, build):
    sample[2]["properties"]["community_name"] = "别的社区"
    problem = only(validate_collection(build.collection(sample)), "inconsistent-name")
    assert (problem.index, problem.code) == (2, "420502001001003")
    assert "community 420502001001" in problem.message
    assert "别的社区" in problem.message and "#0" in problem.message


# ---------------------------------------------------------------- overlaps and gaps

def test_two_overlapping_grids(sample, build):
    # Move grid 3 half-way onto grid 2.
    ring2, ring3 = ring_of(sample[1]), ring_of(sample[2])
    shift = (min(x for x, _ in ring3) - min(x for x, _ in ring2)) / 2
    sample[2]["geometry"]["coordinates"] = [[[round(x - shift, 6), y] for x, y in ring3]]
    problem = only(validate_collection(build.collection(sample)), "overlap")
    assert (problem.index, problem.code) == (2, "420502001001003")
    assert "420502001001002" in problem.message and "420502001001003" in problem.message
    assert "#1" in problem.message and "m²" in problem.message


def test_touching_grids_and_slivers_are_not_overlaps(build):
    a, b = build.square(1, 0, 0), build.square(2, 1, 0)
    # A 1e-7° (1 cm) shift: the overlap is ~5e-11 square degrees, below the 1e-10 tolerance.
    ring_of(b)[0][0] = ring_of(b)[-1][0] = round(ring_of(b)[0][0] - 1e-7, 7)
    report = validate_collection(build.collection([a, b]))
    assert not [p for p in report.problems if p.rule == "overlap"]


def test_contained_grid_is_an_overlap(build):
    big, small = build.square(1, 0, 0, size=3), build.square(2, 1, 1)
    assert only(validate_collection(build.collection([big, small])), "overlap").index == 1


def test_community_with_a_hole(build):
    ring_around = [build.square(n + 1, x, y) for n, (x, y) in
                   enumerate((x, y) for y in (2, 1, 0) for x in range(3) if (x, y) != (1, 1))]
    report = validate_collection(build.collection(ring_around))
    gaps = [p for p in report.problems if p.rule == "gap"]
    community = [p for p in gaps if p.code == "420502001001"]
    assert len(community) == 1 and report.ok
    problem = community[0]
    assert problem.severity == "warning" and problem.index is None
    assert "community 420502001001" in problem.message and "hole" in problem.message
    assert "m²" in problem.message and str(problem) == problem.message
    strict = validate_collection(build.collection(ring_around), strict=True)
    assert {p.severity for p in strict.problems if p.rule == "gap"} == {"error"} and not strict.ok


def test_community_split_in_two(build):
    apart = [build.square(1, 0, 0), build.square(2, 5, 0)]
    problems = validate_collection(build.collection(apart)).problems
    problem = [p for p in problems if p.code == "420502001001"][0]
    assert problem.rule == "gap" and "2 separate parts" in problem.message


def test_street_with_a_gap_between_communities(build):
    left = build.square(1, 0, 0)
    right = build.square(1, 3, 0, community="420502001002", community_name="另一社区")
    problems = validate_collection(build.collection([left, right])).problems
    assert [p.code for p in problems] == ["420502001"] and "street 420502001" in problems[0].message


# ---------------------------------------------------------------- command line

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grids.validate", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


def test_cli_shipped_file_ok():
    result = run_cli(str(grids.DATASET_PATH), "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK, 1110 grids in 121 communities" in result.stdout


def test_cli_reports_errors(tmp_path, sample, build):
    ring_of(sample[1]).reverse()
    sample[2]["properties"]["grid_code"] = "42050200100103"
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(build.collection(sample), ensure_ascii=False), encoding="utf-8")
    result = run_cli(str(path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("warning: feature #1 (420502001001002): exterior ring is clockwise")
    assert lines[1].startswith("error: feature #2 (42050200100103): grid code 42050200100103 has 14 digits")
    assert lines[-1].endswith("INVALID, 1 error(s), 1 warning(s)")
    strict = run_cli(str(path), "--strict").stdout.splitlines()
    assert strict[-1].endswith("INVALID, 2 error(s), 0 warning(s)")


def test_shapes_in_sample_really_touch(sample):
    # Guards the fixtures the tests above rely on: three neighbours in one row.
    a, b, c = (shape(f["geometry"]) for f in sample)
    assert a.touches(b) and b.touches(c) and not a.intersects(c)
