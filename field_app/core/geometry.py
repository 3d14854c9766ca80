"""Point in polygon for GeoJSON Polygon and MultiPolygon (holes included), in pure Python: no shapely on the tablet.

Ray casting (even-odd rule) per ring: a point is inside a polygon when it is inside the exterior ring and in none of
its holes. Points exactly on an edge may fall on either side; grids tile their community, so a point on a shared edge
belongs to one of the neighbours either way.
"""
from __future__ import annotations


def in_ring(x: float, y: float, ring) -> bool:
    inside = False
    n = len(ring)
    if n < 3:
        return False
    x1, y1 = ring[-1][0], ring[-1][1]
    for point in ring:
        x2, y2 = point[0], point[1]
        if (y2 > y) != (y1 > y):
            cross = (x1 - x2) * (y - y2) / (y1 - y2) + x2
            if x < cross:
                inside = not inside
        x1, y1 = x2, y2
    return inside


def _bbox_contains(ring, x: float, y: float) -> bool:
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    return min(xs) <= x <= max(xs) and min(ys) <= y <= max(ys)


def in_polygon(x: float, y: float, rings) -> bool:
    if not rings or not _bbox_contains(rings[0], x, y) or not in_ring(x, y, rings[0]):
        return False
    return not any(in_ring(x, y, hole) for hole in rings[1:])


def contains(geometry: dict, lon: float, lat: float) -> bool:
    """True when (lon, lat) lies inside a GeoJSON Polygon or MultiPolygon geometry (or a Feature's geometry)."""
    if geometry is None:
        return False
    if geometry.get("type") == "Feature":
        return contains(geometry.get("geometry"), lon, lat)
    kind = geometry.get("type")
    if kind == "Polygon":
        return in_polygon(lon, lat, geometry["coordinates"])
    if kind == "MultiPolygon":
        return any(in_polygon(lon, lat, polygon) for polygon in geometry["coordinates"])
    if kind == "GeometryCollection":
        return any(contains(g, lon, lat) for g in geometry.get("geometries", []))
    return False
