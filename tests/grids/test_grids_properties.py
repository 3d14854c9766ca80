"""Property-based tests of the validator (hypothesis)."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from grids.validate import validate_collection

UNIT = 0.0005   # degrees per lattice unit of the random partitions


@st.composite
def rectangle_partitions(draw, size: int = 48) -> list[tuple[int, int, int, int]]:
    """A random guillotine partition of a size x size square into rectangles (x0, y0, x1, y1)."""
    out: list[tuple[int, int, int, int]] = []

    def split(x0: int, y0: int, x1: int, y1: int, depth: int) -> None:
        can_cut = x1 - x0 >= 2 or y1 - y0 >= 2
        if depth >= 6 or not can_cut or (depth > 0 and draw(st.integers(0, 3)) == 0):
            out.append((x0, y0, x1, y1))
            return
        vertical = draw(st.booleans()) if x1 - x0 >= 2 and y1 - y0 >= 2 else x1 - x0 >= 2
        if vertical:
            cut = draw(st.integers(x0 + 1, x1 - 1))
            split(x0, y0, cut, y1, depth + 1)
            split(cut, y0, x1, y1, depth + 1)
        else:
            cut = draw(st.integers(y0 + 1, y1 - 1))
            split(x0, y0, x1, cut, depth + 1)
            split(x0, cut, x1, y1, depth + 1)

    split(0, 0, size, size, 0)
    return out


def ring(x0: int, y0: int, x1: int, y1: int) -> list[list[float]]:
    def pt(x: int, y: int) -> list[float]:
        return [round(111.3 + x * UNIT, 6), round(30.7 + y * UNIT, 6)]
    return [pt(x0, y0), pt(x1, y0), pt(x1, y1), pt(x0, y1), pt(x0, y0)]


@settings(max_examples=60, deadline=None)
@given(rectangle_partitions())
def test_any_rectangle_partition_is_accepted(build, rects):
    features = [build.rect(seq, ring(*r)) for seq, r in enumerate(rects, start=1)]
    report = validate_collection(build.collection(features), strict=True)
    assert report.problems == [] and len(report.grids) == len(rects)


@settings(max_examples=60, deadline=None)
@given(rectangle_partitions(), st.data())
def test_removing_an_inner_rectangle_leaves_a_gap(build, rects, data):
    inner = [r for r in rects if 0 < r[0] and 0 < r[1] and r[2] < 48 and r[3] < 48]
    if not inner:
        return
    hole = data.draw(st.sampled_from(inner))
    features = [build.rect(seq, ring(*r)) for seq, r in enumerate(rects, start=1) if r != hole]
    report = validate_collection(build.collection(features), strict=True)
    assert {p.rule for p in report.problems} == {"gap"}
    assert any(p.code == "420502001001" and "hole" in p.message for p in report.problems)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_translating_one_grid_onto_another_is_an_overlap(shipped, build, data):
    features = shipped["features"]
    a_index = data.draw(st.integers(0, len(features) - 1), label="a")
    b_index = data.draw(st.integers(0, len(features) - 1).filter(lambda i: i != a_index), label="b")
    a, b = copy.deepcopy(features[a_index]), copy.deepcopy(features[b_index])
    # Move b so that an interior point of b lands on an interior point of a: they must overlap.
    pa, pb = shape(a["geometry"]).representative_point(), shape(b["geometry"]).representative_point()
    dx, dy = pa.x - pb.x, pa.y - pb.y
    b["geometry"]["coordinates"] = [[[round(x + dx, 6), round(y + dy, 6)] for x, y in r]
                                    for r in b["geometry"]["coordinates"]]
    report = validate_collection(build.collection([a, b]))
    overlaps = [p for p in report.problems if p.rule == "overlap"]
    assert len(overlaps) == 1 and overlaps[0].index == 1
    assert a["properties"]["grid_code"] in overlaps[0].message
    assert b["properties"]["grid_code"] in overlaps[0].message


@settings(max_examples=30, deadline=None)
@given(st.lists(st.booleans(), min_size=3, max_size=3))
def test_winding_is_a_warning_and_is_normalised(shipped, build, flips):
    original = copy.deepcopy(shipped["features"][:3])
    features = copy.deepcopy(original)
    for feature, flip in zip(features, flips):
        if flip:
            feature["geometry"]["coordinates"][0].reverse()
    report = validate_collection(build.collection(features))
    assert report.ok and [p.index for p in report.problems] == [i for i, f in enumerate(flips) if f]
    assert [g.geometry for g in report.grids] == [f["geometry"] for f in original]
    strict = validate_collection(build.collection(features), strict=True)
    assert strict.ok == (not any(flips))
