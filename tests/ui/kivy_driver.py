"""Driving a WanggeApp in the test window: start and stop it, pump frames, press, type, take screenshots.

(A module of its own, not conftest: several test folders have a conftest.py, and `from conftest import` would pick
whichever was loaded last.)
"""
from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


class Driver:
    """Drives a running WanggeApp: frames, presses, typing, screenshots."""

    def __init__(self, window):
        self.window = window
        self.app = None

    # -- app life cycle -------------------------------------------------------------------------------------
    def start(self, app):
        """What App.run() does before its main loop: build, put the root on the window, on_start."""
        self.app = app
        forget_kv_app()
        app._run_prepare()
        self.frames(3)
        return app

    def stop(self):
        """What App.stop() does, except stopping the event loop (the window lives on for the next app)."""
        from kivy.app import App

        app, self.app = self.app, None
        if app is None:
            return
        self.settle(app)
        app.dispatch("on_stop")
        for child in list(self.window.children):
            self.window.remove_widget(child)
        App._running_app = None
        forget_kv_app()
        self.frames(2)

    def settle(self, app, timeout: float = 30.0) -> None:
        """Let the app's background work end (a network probe, a sync) and its results land, so nothing of this
        app runs on into the next test (a stray callback would otherwise act on the next app's screens)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.frames()
            if not app.sync.running and not getattr(app, "_probe_running", False):
                break
            time.sleep(0.01)
        app.sync.wait(timeout=5)
        self.frames(3)

    # -- frames ---------------------------------------------------------------------------------------------
    def frames(self, count=1):
        from kivy.base import EventLoop

        for _ in range(count):
            EventLoop.idle()

    def wait_for(self, condition, timeout=20.0, message="condition"):
        """Pump frames until condition() is true (worker threads hand results back through the Clock)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.frames()
            if condition():
                self.frames(2)
                return
            time.sleep(0.01)
        raise AssertionError(f"timed out waiting for {message}")

    # -- input ----------------------------------------------------------------------------------------------
    @property
    def screen(self):
        return self.app.screen_manager.current_screen

    def press(self, button):
        assert not button.disabled, f"{button!r} ({getattr(button, 'text', '')!r}) is disabled"
        button.dispatch("on_press")
        button.dispatch("on_release")
        self.frames(2)

    def type(self, text_input, text):
        """Focus the input and type into it through the window, as a keyboard would."""
        text_input.focus = True
        self.frames()
        text_input.select_all()
        text_input.delete_selection()
        self.window.dispatch("on_textinput", text)
        self.frames()
        text_input.focus = False
        self.frames()
        assert text_input.text == text, (text_input.text, text)

    def tap(self, widget):
        """A real touch down/up in the middle of a widget."""
        from kivy.tests.common import UnitTestTouch

        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.frames()
        touch.touch_up()
        self.frames(2)

    def screenshot(self, name) -> Path:
        """Save the window as artifacts/screenshots/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.frames(3)
        target = SCREENSHOTS / f"{name}.png"
        made = self.window.screenshot(name=str(target))
        os.replace(made, target)
        return target


def forget_kv_app():
    """kv rules reach the App through one cached proxy (`app`), which forgets the App on its on_stop. If a rule is
    evaluated while the App is stopping (our on_stop saves the open form, which updates properties), the proxy
    caches the stopping App again and would keep serving it to the next App built in this process."""
    from kivy.lang.parser import global_idmap

    object.__setattr__(global_idmap["app"], "_obj", None)



def find(widget, predicate):
    """The first descendant (depth first, including `widget`) for which predicate(w) is true."""
    for child in widget.walk(restrict=True):
        if predicate(child):
            return child
    raise LookupError("no such widget")


def find_text(widget, text, cls=None):
    from kivy.uix.label import Label

    cls = cls or Label
    return find(widget, lambda w: isinstance(w, cls) and text in (w.text or ""))
