"""Real Kivy screens in a real window under Xvfb (pytest-xvfb starts it), driven by dispatched events.

Kivy reads its environment when first imported and creates the Window when `kivy.core.window` is first imported,
so everything below happens at the top of this file, before any test module imports Kivy. One Window per process:
it is never closed; an app is "stopped" by taking its root off the window, and a new app is built on the same one.
"""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_USE_DEFAULTCONFIG", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivy-home-"))
os.environ.setdefault("KIVY_METRICS_DENSITY", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # leave logging and stderr to pytest (no redirection loops)

from kivy.config import Config  # noqa: E402

Config.set("graphics", "width", "1280")   # a 10-inch tablet in landscape
Config.set("graphics", "height", "800")
Config.set("graphics", "resizable", "0")
Config.set("kivy", "exit_on_escape", "0")
Config.set("input", "mouse", "mouse,disable_multitouch")

import pytest  # noqa: E402

from kivy_driver import Driver  # noqa: E402


@pytest.fixture(scope="session")
def window():
    from kivy.base import EventLoop
    from kivy.core.window import Window

    EventLoop.ensure_window()
    if EventLoop.status != "started":
        EventLoop.start()
    return Window


@pytest.fixture
def driver(window):
    d = Driver(window)
    yield d
    d.stop()


