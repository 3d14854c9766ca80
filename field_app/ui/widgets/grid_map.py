"""An offline map of my grids: polygons from the downloaded GeoJSON and my records as dots. No tiles needed.

Longitude/latitude are projected into the widget with an equirectangular projection (x scaled by cos(latitude)),
which is exact enough at grid scale (a few hundred metres), and fitted to the widget with a margin.
"""
from __future__ import annotations

import math

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Ellipse, Line, Mesh, Rectangle
from kivy.graphics.tesselator import TYPE_POLYGONS, WINDING_ODD, Tesselator
from kivy.metrics import dp
from kivy.properties import DictProperty, ListProperty
from kivy.uix.widget import Widget

from .common import state_color

FILL = (0.20, 0.45, 0.80, 0.30)
EDGE = (0.45, 0.70, 1.00, 1)


def polygons_of(geometry) -> list[list[list[tuple[float, float]]]]:
    """A GeoJSON Polygon/MultiPolygon as a list of polygons, each a list of rings of (lon, lat)."""
    if not geometry:
        return []
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        return [[[tuple(p[:2]) for p in ring] for ring in coords]]
    if kind == "MultiPolygon":
        return [[[tuple(p[:2]) for p in ring] for ring in polygon] for polygon in coords]
    return []


class Projection:
    def __init__(self, bounds, pos, size, margin):
        west, south, east, north = bounds
        self.lat0 = math.radians((south + north) / 2)
        kx = math.cos(self.lat0)
        width = max((east - west) * kx, 1e-9)
        height = max(north - south, 1e-9)
        avail_w, avail_h = max(size[0] - 2 * margin, 1), max(size[1] - 2 * margin, 1)
        self.scale = min(avail_w / width, avail_h / height)
        self.kx = kx
        # centre the drawing
        self.x0 = pos[0] + (size[0] - width * self.scale) / 2
        self.y0 = pos[1] + (size[1] - height * self.scale) / 2
        self.west, self.south = west, south

    def __call__(self, lon, lat):
        return (self.x0 + (lon - self.west) * self.kx * self.scale, self.y0 + (lat - self.south) * self.scale)


class GridMap(Widget):
    features = DictProperty()       # GeoJSON FeatureCollection of my grids
    points = ListProperty()         # [{"lon", "lat", "state", "id"}]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._redraw = Clock.create_trigger(self.redraw, 0)
        self.bind(pos=self._redraw, size=self._redraw, features=self._redraw, points=self._redraw)
        self.projection = None

    def bounds(self):
        lons, lats = [], []
        for feature in self.features.get("features", []):
            for polygon in polygons_of(feature.get("geometry")):
                for lon, lat in polygon[0]:
                    lons.append(lon)
                    lats.append(lat)
        for point in self.points:
            lons.append(point["lon"])
            lats.append(point["lat"])
        if not lons:
            return None
        return min(lons), min(lats), max(lons), max(lats)

    def redraw(self, *_):
        self.canvas.clear()
        bounds = self.bounds()
        if bounds is None:
            self.projection = None
            return
        project = self.projection = Projection(bounds, self.pos, self.size, dp(40))
        with self.canvas:
            for feature in self.features.get("features", []):
                polygons = polygons_of(feature.get("geometry"))
                for polygon in polygons:
                    rings = [[c for lon, lat in ring for c in project(lon, lat)] for ring in polygon]
                    tess = Tesselator()
                    for ring in rings:
                        tess.add_contour(ring)
                    if tess.tesselate(WINDING_ODD, TYPE_POLYGONS):
                        Color(*FILL)
                        for vertices, indices in tess.meshes:
                            Mesh(vertices=vertices, indices=indices, mode="triangle_fan")
                    Color(*EDGE)
                    for ring in rings:
                        Line(points=ring, width=dp(1.5), close=True)
                self._draw_label(feature, polygons, project)
            radius = dp(7)
            for point in self.points:
                x, y = project(point["lon"], point["lat"])
                Color(0, 0, 0, 0.6)
                Ellipse(pos=(x - radius - dp(2), y - radius - dp(2)), size=(2 * radius + dp(4), 2 * radius + dp(4)))
                Color(*state_color(point.get("state", "")))
                Ellipse(pos=(x - radius, y - radius), size=(2 * radius, 2 * radius))

    def _draw_label(self, feature, polygons, project):
        properties = feature.get("properties") or {}
        text = properties.get("code") or properties.get("grid_code") or str(feature.get("id", ""))
        name = properties.get("name")
        if name:
            text = f"{name}\n{text}"
        if not text or not polygons:
            return
        # under the polygon's top edge, where record dots (usually inside, away from edges) rarely fall
        ring = polygons[0][0]
        lon = (min(p[0] for p in ring) + max(p[0] for p in ring)) / 2
        top = max(p[1] for p in ring)
        bottom = min(p[1] for p in ring)
        x, y = project(lon, top - (top - bottom) * 0.12)
        label = CoreLabel(text=text, font_size=dp(15), halign="center")
        label.refresh()
        texture = label.texture
        Color(1, 1, 1, 0.9)
        Rectangle(texture=texture, size=texture.size, pos=(x - texture.width / 2, y - texture.height))

    def point_at(self, x, y, tolerance=dp(14)):
        """The record id of the dot nearest to (x, y), if one is within `tolerance`."""
        if self.projection is None:
            return None
        best, best_d = None, tolerance
        for point in self.points:
            px, py = self.projection(point["lon"], point["lat"])
            d = math.hypot(px - x, py - y)
            if d <= best_d:
                best, best_d = point.get("id"), d
        return best

    def on_touch_up(self, touch):
        if self.collide_point(*touch.pos):
            record_id = self.point_at(*touch.pos)
            if record_id:
                self.dispatch_record(record_id)
                return True
        return super().on_touch_up(touch)

    def dispatch_record(self, record_id):
        from kivy.app import App

        App.get_running_app().screen("records").open_record(record_id)
