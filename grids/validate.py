"""The single validator for grid boundary files (used by the server importer, the tests and CI).

A grid file is a GeoJSON FeatureCollection (RFC 7946) of Polygon/MultiPolygon features in WGS84 /
CGCS2000 lon/lat, each carrying GB/T 30428.1 15-digit grid codes and the names of its community,
street and district.  See ``grids/README.md`` for the full description of the rules.

Usage: ``python -m grids.validate PATH [--strict]``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity

from grids._rings import DECIMALS, CoordError, Ring, normalised_geometry, parse_polygon, winding_mistake

REQUIRED_PROPERTIES = (
    "grid_code", "grid_name", "community_code", "community_name",
    "street_code", "street_name", "district_code", "district_name",
)
CODE_LENGTHS = {"grid_code": 15, "community_code": 12, "street_code": 9, "district_code": 6}
# Intersections/holes below this many square degrees (about 1 m²) are treated as rounding noise.
AREA_TOLERANCE = 1e-10
# Coordinate systems a file may still declare with the pre-RFC 7946 "crs" member.
_LONLAT_CRS = re.compile(r"(CRS84|EPSG:{1,2}(4326|4490))$", re.IGNORECASE)

@dataclass(frozen=True)
class Problem:
    rule: str
    message: str
    index: int | None = None
    code: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        if self.index is None:
            return self.message
        label = f"feature #{self.index}" + (f" ({self.code})" if self.code else "")
        return f"{label}: {self.message}"


@dataclass(frozen=True)
class GridRecord:
    code: str
    name: str
    community_code: str
    community_name: str
    street_code: str
    street_name: str
    district_code: str
    district_name: str
    households: int | None
    geometry: dict
    bbox: tuple[float, float, float, float]


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    grids: list[GridRecord] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Feature:
    """Working state for one feature; fields stay None when their checks failed."""
    index: int
    code: str | None = None
    props: dict[str, str] | None = None   # set only when all properties and codes are good
    households: int | None = None
    shape: Polygon | MultiPolygon | None = None   # set only for a valid geometry
    rings: list[list[Ring]] | None = None


class _Collector:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.problems: list[Problem] = []

    def add(self, rule: str, message: str, index: int | None = None, code: str | None = None,
            *, soft: bool = False) -> None:
        # "soft" rules (winding, gaps) are warnings unless the caller asked for strict checking.
        severity = "error" if self.strict or not soft else "warning"
        self.problems.append(Problem(rule, message, index, code, severity))


# ---------------------------------------------------------------- entry points

def validate_path(path: str | Path, *, strict: bool = False) -> Report:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return Report([Problem("structure", f"cannot read {path}: {exc.strerror or exc}")])
    return validate_text(raw, strict=strict)


def validate_text(text: str | bytes, *, strict: bool = False) -> Report:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return Report([Problem("json", f"file is not UTF-8 text (byte {exc.start}): {exc.reason}")])
    text = text.removeprefix("\ufeff")   # Windows tools like to start UTF-8 files with a BOM
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return Report([Problem("json", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")])
    except ValueError as exc:
        return Report([Problem("json", f"invalid JSON: {exc}")])
    return validate_collection(data, strict=strict)


def validate_collection(data: object, *, strict: bool = False) -> Report:
    out = _Collector(strict)
    raw_features = _check_top_level(data, out)
    if raw_features is None:
        return Report(out.problems)
    features = [_check_feature(i, f, out) for i, f in enumerate(raw_features)]
    _check_across(features, out)
    _check_overlaps(features, out)
    _check_gaps(features, out)
    report = Report(out.problems)
    if report.ok:
        report.grids = [_record(f) for f in features]
    return report


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# ---------------------------------------------------------------- structure

def _check_top_level(data: object, out: _Collector) -> list | None:
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        got = data.get("type") if isinstance(data, dict) else type(data).__name__
        out.add("structure", f"top level must be a GeoJSON FeatureCollection, got {got!r}")
        return None
    features = data.get("features")
    if not isinstance(features, list):
        out.add("structure", "FeatureCollection has no 'features' list")
        return None
    if not features:
        out.add("structure", "FeatureCollection has no features")
        return None
    crs = data.get("crs")
    if crs is not None:
        crs_props = crs.get("properties") if isinstance(crs, dict) else None
        name = str(crs_props.get("name", "")) if isinstance(crs_props, dict) else str(crs)
        if not _LONLAT_CRS.search(name.strip()):
            out.add("structure", f"file declares coordinate system {name!r}; grids must be WGS84/CGCS2000 "
                                 "longitude/latitude (EPSG:4326 or 4490, RFC 7946): reproject it first")
    return features


def _check_feature(index: int, feature: object, out: _Collector) -> _Feature:
    result = _Feature(index)
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        out.add("structure", "is not a GeoJSON Feature object", index)
        return result
    props, geometry = feature.get("properties"), feature.get("geometry")
    if isinstance(props, dict) and isinstance(props.get("grid_code"), str):
        result.code = props["grid_code"]
    if not isinstance(geometry, dict):
        out.add("structure", "feature has no geometry object", index, result.code)
    else:
        _check_geometry(result, geometry, out)
    if not isinstance(props, dict):
        out.add("structure", "feature has no properties object", index, result.code)
    else:
        _check_properties(result, props, out)
    return result


# ---------------------------------------------------------------- geometry

def _check_geometry(feat: _Feature, geometry: dict, out: _Collector) -> None:
    gtype = geometry.get("type")
    if gtype not in ("Polygon", "MultiPolygon"):
        out.add("geometry-type", f"geometry type {gtype!r} is not accepted: a grid must be a Polygon or "
                                 "MultiPolygon", feat.index, feat.code)
        return
    coords = geometry.get("coordinates")
    polygons = [coords] if gtype == "Polygon" else coords
    try:
        if not isinstance(polygons, list) or not polygons:
            raise CoordError("coordinates must be a non-empty array")
        rings = [parse_polygon(p, n if gtype == "MultiPolygon" else None) for n, p in enumerate(polygons)]
    except CoordError as exc:
        out.add("coordinates", str(exc), feat.index, feat.code)
        return
    parts = [Polygon(r[0], r[1:]) for r in rings]
    shape = parts[0] if gtype == "Polygon" else MultiPolygon(parts)
    if not shape.is_valid:
        out.add("invalid-polygon", f"polygon is invalid: {explain_validity(shape)}", feat.index, feat.code)
        return
    feat.shape, feat.rings = shape, rings
    wrong = winding_mistake(rings)
    if wrong:
        out.add("winding", f"{wrong}; RFC 7946 requires counter-clockwise exterior rings and clockwise holes",
                feat.index, feat.code, soft=True)


# ---------------------------------------------------------------- properties and codes

def _check_properties(feat: _Feature, props: dict, out: _Collector) -> None:
    values: dict[str, str] = {}
    for name in REQUIRED_PROPERTIES:
        value = props.get(name)
        if value is None:
            out.add("property", f"required property {name} is missing", feat.index, feat.code)
        elif not isinstance(value, str):
            hint = " (write codes as JSON strings so leading zeros survive)" if name.endswith("_code") else ""
            out.add("property", f"property {name} must be a string, not {type(value).__name__}{hint}",
                    feat.index, feat.code)
        elif not value.strip():
            out.add("property", f"property {name} is empty", feat.index, feat.code)
        else:
            values[name] = value if name.endswith("_code") else value.strip()
    households = props.get("households")
    if households is not None:
        if isinstance(households, float) and households.is_integer():
            households = int(households)   # GIS exports often write integers as 350.0
        if isinstance(households, bool) or not isinstance(households, int) or households < 0:
            out.add("property", f"property households must be a non-negative integer, got {households!r}",
                    feat.index, feat.code)
        else:
            feat.households = households
    if len(values) == len(REQUIRED_PROPERTIES) and _check_codes(feat, values, out):
        feat.props = values


def _check_codes(feat: _Feature, values: dict[str, str], out: _Collector) -> bool:
    good = True
    for name, length in CODE_LENGTHS.items():
        code = values[name]
        label = name.replace("_", " ")
        if name == "grid_code" and re.fullmatch(r"[0-9]{14}", code):
            padded = code[:12] + "0" + code[12:]
            out.add("legacy-code",
                    f"grid code {code} has 14 digits: the older CJ/T 213-2005 14-digit scheme is not "
                    "accepted; GB/T 30428.1 requires a 3-digit grid sequence (e.g. zero-pad the 2-digit "
                    f"sequence: {padded})",
                    feat.index, feat.code)
            good = False
        elif not re.fullmatch(rf"[0-9]{{{length}}}", code):
            out.add("bad-code", f"{label} {code!r} must be exactly {length} digits", feat.index, feat.code)
            good = False
        elif length > 6 and code[-3:] == "000":
            out.add("bad-code", f"{label} {code} ends in sequence 000; sequences start at 001",
                    feat.index, feat.code)
            good = False
    if not good:
        return False
    chain = [("grid code", "grid_code", "community", "community_code"),
             ("community code", "community_code", "street", "street_code"),
             ("street code", "street_code", "district", "district_code")]
    for label, name, parent_label, parent in chain:
        if not values[name].startswith(values[parent]):
            out.add("code-prefix", f"{label} {values[name]} is not under its {parent_label} {values[parent]}",
                    feat.index, feat.code)
            good = False
    return good


def _check_across(features: list[_Feature], out: _Collector) -> None:
    """Duplicate grid codes, and one name per community/street/district code."""
    first_by_code: dict[str, int] = {}
    for feat in features:
        if feat.props is None:
            continue
        code = feat.props["grid_code"]
        if code in first_by_code:
            out.add("duplicate-code", f"grid code {code} is used by features #{first_by_code[code]} and "
                                      f"#{feat.index}", feat.index, code)
        else:
            first_by_code[code] = feat.index
    for level in ("community", "street", "district"):
        seen: dict[str, tuple[str, int]] = {}
        for feat in features:
            if feat.props is None:
                continue
            code, name = feat.props[f"{level}_code"], feat.props[f"{level}_name"]
            first = seen.setdefault(code, (name, feat.index))
            if first[0] != name:
                out.add("inconsistent-name", f"{level} {code} is named {name!r} here but {first[0]!r} in "
                                             f"feature #{first[1]}", feat.index, feat.code)


# ---------------------------------------------------------------- overlaps and gaps

def _square_metres(area_deg2: float, lat: float) -> float:
    return area_deg2 * 110_574.0 * 111_320.0 * math.cos(math.radians(lat))


def _check_overlaps(features: list[_Feature], out: _Collector) -> None:
    placed = [f for f in features if f.shape is not None]
    if len(placed) < 2:
        return
    shapes = np.array([f.shape for f in placed], dtype=object)
    tree = shapely.STRtree(shapes)
    left, right = tree.query(shapes, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    # Touching neighbours intersect along an edge only; cheap DE-9IM test for shared interior first.
    inside = shapely.relate_pattern(shapes[left], shapes[right], "T********")
    left, right = left[inside], right[inside]
    overlaps = shapely.intersection(shapes[left], shapes[right])
    for a, b, geom in zip(left, right, overlaps):
        area = geom.area
        if area <= AREA_TOLERANCE:
            continue
        first, second = placed[a], placed[b]
        m2 = _square_metres(area, geom.centroid.y)
        out.add("overlap", f"grid {second.code or '?'} overlaps grid {first.code or '?'} "
                           f"(feature #{first.index}) by about {m2:,.0f} m²", second.index, second.code)


def _check_gaps(features: list[_Feature], out: _Collector) -> None:
    """Each community's grids, and each street's communities, must form one polygon without holes."""
    communities: dict[str, list[_Feature]] = {}
    for feat in features:
        if feat.props is not None and feat.shape is not None:
            communities.setdefault(feat.props["community_code"], []).append(feat)
    streets: dict[str, list[Any]] = {}
    names: dict[str, str] = {}
    for code, members in communities.items():
        union = shapely.union_all([f.shape for f in members])
        names[code] = members[0].props["community_name"]
        _check_one_piece("community", code, names[code], f"its {len(members)} grids", union, out)
        street = members[0].props["street_code"]
        names[street] = members[0].props["street_name"]
        streets.setdefault(street, []).append(union)
    for code, unions in streets.items():
        union = shapely.union_all(unions)
        _check_one_piece("street", code, names[code], f"its {len(unions)} communities", union, out)


def _check_one_piece(level: str, code: str, name: str, what: str, union: Any, out: _Collector) -> None:
    label = f"{level} {code} ({name})"
    parts = [p for p in getattr(union, "geoms", [union]) if p.area > AREA_TOLERANCE]
    if len(parts) > 1:
        out.add("gap", f"{label} is not one piece: {what} form {len(parts)} separate parts",
                code=code, soft=True)
    holes = [ring for part in parts for ring in part.interiors if Polygon(ring).area > AREA_TOLERANCE]
    if holes:
        area = sum(Polygon(ring).area for ring in holes)
        m2 = _square_metres(area, union.centroid.y)
        out.add("gap", f"{label} has {len(holes)} hole(s) of about {m2:,.0f} m² in all between {what}",
                code=code, soft=True)


# ---------------------------------------------------------------- results

def _record(feat: _Feature) -> GridRecord:
    assert feat.props is not None and feat.rings is not None and feat.shape is not None
    p = feat.props
    geometry = normalised_geometry(feat.rings, isinstance(feat.shape, MultiPolygon))
    xs = [x for polygon in feat.rings for x, _ in polygon[0]]
    ys = [y for polygon in feat.rings for _, y in polygon[0]]
    bbox = (round(min(xs), DECIMALS), round(min(ys), DECIMALS),
            round(max(xs), DECIMALS), round(max(ys), DECIMALS))
    return GridRecord(
        code=p["grid_code"], name=p["grid_name"],
        community_code=p["community_code"], community_name=p["community_name"],
        street_code=p["street_code"], street_name=p["street_name"],
        district_code=p["district_code"], district_name=p["district_name"],
        households=feat.households, geometry=geometry, bbox=bbox,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grids.validate",
                                     description="Validate a grid boundary GeoJSON file.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--strict", action="store_true",
                        help="treat winding and gap warnings as errors (the shipped file must pass this)")
    args = parser.parse_args(argv)
    report = validate_path(args.path, strict=args.strict)
    for problem in report.problems:
        print(f"{problem.severity}: {problem}")
    errors, warnings = len(report.errors), len(report.warnings)
    if report.ok:
        communities = len({g.community_code for g in report.grids})
        streets = len({g.street_code for g in report.grids})
        print(f"{args.path}: OK, {len(report.grids)} grids in {communities} communities and {streets} "
              f"streets, {warnings} warning(s)")
    else:
        print(f"{args.path}: INVALID, {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
