"""Where the grid administrator stands: a provider interface, GPS through plyer on Android, typed-in coordinates on
the desktop. Fixes are plain dicts ready for a `location` field: {"lon", "lat", "accuracy_m", "source"}."""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Protocol


class LocationProvider(Protocol):
    def current(self) -> dict | None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class ManualLocation:
    """The user types the coordinates (or picks them on the offline map); `current` returns what was set last."""

    def __init__(self):
        self._fix: dict | None = None

    def set(self, lon: float, lat: float, accuracy_m: float | None = None) -> None:
        lon, lat = float(lon), float(lat)
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError("经纬度超出范围。")
        self._fix = {"lon": lon, "lat": lat, "accuracy_m": accuracy_m, "source": "manual"}

    def clear(self) -> None:
        self._fix = None

    def current(self) -> dict | None:
        return dict(self._fix) if self._fix else None

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class PlyerGPSLocation:
    """GPS via plyer (Android). plyer is imported only when started; where it has no GPS (the desktop raises
    NotImplementedError) `current` simply returns None. A fix older than `max_age_s` is not current any more."""

    def __init__(self, max_age_s: float = 120, monotonic: Callable[[], float] = time.monotonic, gps=None):
        self.max_age_s = max_age_s
        self.monotonic = monotonic
        self._gps = gps
        self._fix: dict | None = None
        self._at: float | None = None
        self._started = False
        self._available = True
        self._lock = threading.Lock()

    def _on_location(self, **kwargs) -> None:
        try:
            fix = {"lon": float(kwargs["lon"]), "lat": float(kwargs["lat"]),
                   "accuracy_m": float(kwargs["accuracy"]) if kwargs.get("accuracy") is not None else None,
                   "source": "gps"}
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            self._fix, self._at = fix, self.monotonic()

    def start(self) -> None:
        if self._started or not self._available:
            return
        try:
            if self._gps is None:
                from plyer import gps  # noqa: PLC0415  (lazy: plyer is only on the tablet)
                self._gps = gps
            self._gps.configure(on_location=self._on_location)
            self._gps.start(minTime=1000, minDistance=0)
            self._started = True
        except (NotImplementedError, ImportError, ModuleNotFoundError):
            self._available = False
        except Exception:   # noqa: BLE001  (permission refused, provider disabled: no GPS, not a crash)
            self._available = False

    def stop(self) -> None:
        if self._started and self._gps is not None:
            try:
                self._gps.stop()
            except Exception:  # noqa: BLE001
                pass
        self._started = False

    def current(self) -> dict | None:
        self.start()
        with self._lock:
            if self._fix is None or self._at is None or self.monotonic() - self._at > self.max_age_s:
                return None
            return dict(self._fix)


def on_android(environ=None) -> bool:
    environ = os.environ if environ is None else environ
    return "ANDROID_ARGUMENT" in environ or "ANDROID_PRIVATE" in environ


def default_provider(environ=None) -> LocationProvider:
    return PlyerGPSLocation() if on_android(environ) else ManualLocation()
