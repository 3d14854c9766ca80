"""My grid map: the grid polygons and my records' locations, drawn from data on the tablet."""
from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from ..i18n import tr
from ..widgets.grid_map import GridMap  # noqa: F401  (registers the class for the kv rule)


class GridMapScreen(Screen):
    info = StringProperty("")

    def prepare(self, **_):
        self.refresh()

    def refresh(self):
        core = App.get_running_app().core
        features = core.grid_features() or {"type": "FeatureCollection", "features": []}
        points, without = [], 0
        for record in core.records():
            location = (record.fields or {}).get("location") or {}
            try:
                lon, lat = float(location["lon"]), float(location["lat"])
            except (KeyError, TypeError, ValueError):
                without += 1
                continue
            points.append({"lon": lon, "lat": lat, "state": record.state, "id": record.id})
        self.ids.map.features = features
        self.ids.map.points = points
        grids = len(features.get("features", []))
        self.info = tr("map.info", grids=grids, records=len(points), without=without)
