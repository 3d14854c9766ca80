"""Coordinate parsing, ring orientation and normalisation for :mod:`grids.validate`.

Pure Python on purpose: these run once per ring and need exact, explainable messages.
"""

from __future__ import annotations

import math

DECIMALS = 6
Ring = list[tuple[float, float]]


class CoordError(ValueError):
    """A coordinate problem; the message says where (polygon, ring, position) and what."""


def parse_polygon(rings: object, part: int | None) -> list[Ring]:
    where = "" if part is None else f"polygon {part} "
    if not isinstance(rings, list) or not rings:
        raise CoordError(f"{where}must be a non-empty array of rings")
    return [_parse_ring(ring, f"{where}ring {n}") for n, ring in enumerate(rings)]


def _parse_ring(ring: object, where: str) -> Ring:
    if not isinstance(ring, list):
        raise CoordError(f"{where} is not an array of positions")
    points = [_parse_position(pos, f"{where} position {n}") for n, pos in enumerate(ring)]
    if len(points) < 4:
        raise CoordError(f"{where} has {len(points)} positions; a linear ring needs at least 4")
    if points[0] != points[-1]:
        raise CoordError(f"{where} is not closed: its first and last positions differ")
    return points


def _parse_position(pos: object, where: str) -> tuple[float, float]:
    if not isinstance(pos, list) or not 2 <= len(pos) <= 3:
        raise CoordError(f"{where} must be [longitude, latitude] (optionally with altitude)")
    for value in pos:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CoordError(f"{where} has a non-numeric coordinate {value!r}")
    lon, lat = float(pos[0]), float(pos[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise CoordError(f"{where} ({lon}, {lat}) is outside longitude [-180, 180] / latitude [-90, 90]; "
                         "coordinates must be WGS84 lon/lat degrees, not projected metres")
    return lon, lat


def signed_area(ring: Ring) -> float:
    """Shoelace formula: positive for counter-clockwise rings."""
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))


def winding_mistake(polygons: list[list[Ring]]) -> str | None:
    for polygon in polygons:
        if signed_area(polygon[0]) < 0:
            return "exterior ring is clockwise"
        if any(signed_area(hole) > 0 for hole in polygon[1:]):
            return "a hole (interior ring) is counter-clockwise"
    return None


def normalised_geometry(polygons: list[list[Ring]], multi: bool) -> dict:
    """Rounded to 6 decimals and re-oriented per RFC 7946 (exterior CCW, holes CW)."""
    result = []
    for polygon in polygons:
        rings = []
        for n, ring in enumerate(polygon):
            rounded = [[round(x, DECIMALS), round(y, DECIMALS)] for x, y in ring]
            rounded[-1] = list(rounded[0])   # keep the ring closed after rounding
            area = signed_area([tuple(p) for p in rounded])
            if (n == 0) != (area > 0):
                rounded.reverse()
            rings.append(rounded)
        result.append(rings)
    if multi:
        return {"type": "MultiPolygon", "coordinates": result}
    return {"type": "Polygon", "coordinates": result[0]}
