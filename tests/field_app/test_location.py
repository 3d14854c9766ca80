"""Location providers: manual entry, plyer GPS (with a fake plyer gps object), and the platform choice."""
from __future__ import annotations

import pytest

from field_app.core.location import ManualLocation, PlyerGPSLocation, default_provider


def test_manual_location():
    provider = ManualLocation()
    assert provider.current() is None
    provider.set(111.29, 30.69, accuracy_m=50)
    assert provider.current() == {"lon": 111.29, "lat": 30.69, "accuracy_m": 50, "source": "manual"}
    with pytest.raises(ValueError):
        provider.set(200, 0)
    provider.clear()
    assert provider.current() is None


class FakeGPS:
    def __init__(self, fail=None):
        self.fail, self.callback, self.started = fail, None, False

    def configure(self, on_location, on_status=None):
        if self.fail:
            raise self.fail
        self.callback = on_location

    def start(self, minTime, minDistance):  # noqa: N803 (plyer's names)
        self.started = True

    def stop(self):
        self.started = False


def test_gps_fix_is_current_until_it_is_old():
    now = [100.0]
    gps = FakeGPS()
    provider = PlyerGPSLocation(max_age_s=60, monotonic=lambda: now[0], gps=gps)
    assert provider.current() is None and gps.started
    gps.callback(lat=30.7, lon=111.3, accuracy=12.5, speed=0)
    assert provider.current() == {"lon": 111.3, "lat": 30.7, "accuracy_m": 12.5, "source": "gps"}
    now[0] += 61
    assert provider.current() is None
    provider.stop()
    assert not gps.started


def test_gps_not_implemented_on_the_desktop_gives_none():
    provider = PlyerGPSLocation(gps=FakeGPS(fail=NotImplementedError()))
    assert provider.current() is None


def test_platform_choice():
    assert isinstance(default_provider({}), ManualLocation)
    assert isinstance(default_provider({"ANDROID_ARGUMENT": "/data/app"}), PlyerGPSLocation)


def test_core_point_in_grid_and_location(tmp_path, served_categories):
    from field_fakes import FakeTransport
    from field_app.core.app import FieldCore

    grid = {"type": "Feature", "properties": {"code": "420503004001001"},
            "geometry": {"type": "Polygon", "coordinates": [[[111.0, 30.0], [111.1, 30.0], [111.1, 30.1],
                                                            [111.0, 30.1], [111.0, 30.0]]]}}
    fake = FakeTransport(served_categories, grids={"420503004001001": grid})
    manual = ManualLocation()
    core = FieldCore(tmp_path, transport_factory=lambda u, t: fake, location=manual)
    core.enroll("http://fake", "code")
    assert core.current_location() is None
    manual.set(111.05, 30.05)
    fix = core.current_location()
    assert core.in_my_grid("420503004001001", fix["lon"], fix["lat"])
    assert not core.in_my_grid("420503004001001", 111.2, 30.05)
    assert not core.in_my_grid("420503004009999", 111.05, 30.05)
    assert core.grid_features() == {"type": "FeatureCollection", "features": [grid]}
    assert core.parse_qr("wangge://enroll?server=http://10.0.0.2:5000&code=M8NC-A66Q-W79J") == (
        "http://10.0.0.2:5000", "M8NC-A66Q-W79J")
    for bad in ("http://x", "wangge://enroll?code=X", "wangge://enroll?server=ftp://x&code=Y"):
        with pytest.raises(ValueError):
            core.parse_qr(bad)
    core.set_setting("language", "en")
    assert core.setting("language") == "en" and core.setting("auto_sync") is True
    core.close()
