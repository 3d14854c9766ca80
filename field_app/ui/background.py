"""Running core calls off the UI thread, and the sync runner the screens watch.

Worker threads never touch widgets: results, errors and progress come back to the main thread through
`Clock.schedule_once`, and bursts of progress callbacks are merged into one update per frame with a trigger.
"""
from __future__ import annotations

import threading
import traceback

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.logger import Logger
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty


def run_in_thread(work, on_done=None, on_error=None, name="wangge-worker") -> threading.Thread:
    """Run `work()` in a daemon thread; call `on_done(result)` or `on_error(exc)` on the main thread."""

    def target():
        try:
            result = work()
        except Exception as exc:  # handed to the UI, which puts it into words
            Logger.warning("Worker: %s failed: %s", name, "".join(traceback.format_exception_only(exc)).strip())
            if on_error is not None:
                Clock.schedule_once(lambda dt, error=exc: on_error(error), 0)  # `exc` ends with the block
            return
        if on_done is not None:
            Clock.schedule_once(lambda dt, value=result: on_done(value), 0)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


class SyncRunner(EventDispatcher):
    """One sync at a time, in a worker thread; its state as Kivy properties for the sync screen and the home screen.

    Dispatches `on_finished(report)` on the main thread when a sync ends (report is a core SyncReport, or None when
    the core raised).
    """

    running = BooleanProperty(False)
    progress = NumericProperty(0.0)     # 0..1
    phase = StringProperty("")          # the core's phase name (push, photos, pull, ...)
    done = NumericProperty(0)
    total = NumericProperty(0)
    report = ObjectProperty(None, allownone=True)
    automatic = BooleanProperty(False)  # the running (or last) sync was started by the auto-sync timer

    __events__ = ("on_finished",)

    def __init__(self, core, **kwargs):
        super().__init__(**kwargs)
        self.core = core
        self._cancel = threading.Event()
        self._pending = None
        self._lock = threading.Lock()
        self._publish = Clock.create_trigger(self._publish_progress, 0)
        self.thread: threading.Thread | None = None

    def start(self, automatic: bool = False) -> bool:
        if self.running:
            return False
        self.running = True
        self.automatic = automatic
        self.progress, self.phase, self.done, self.total = 0.0, "", 0, 0
        self._cancel.clear()
        self.thread = run_in_thread(self._work, self._finish, self._fail, name="wangge-sync")
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the worker thread ends (tests and shutdown); the result still arrives on the next frame."""
        if self.thread is not None:
            self.thread.join(timeout)

    # -- worker thread: no widget, no Kivy property is touched here ------------------------------------------
    def _work(self):
        return self.core.sync(progress=self._on_progress, cancelled=self._cancel.is_set)

    def _on_progress(self, done, total, phase):
        with self._lock:
            self._pending = (done, total, phase)
        self._publish()  # a Clock trigger: safe from any thread, merged to once per frame

    # -- main thread ------------------------------------------------------------------------------------------
    def _publish_progress(self, *_):
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None or not self.running:
            return
        done, total, phase = pending
        self.done, self.total, self.phase = done or 0, total or 0, phase or ""
        self.progress = (done / total) if total else 0.0

    def _finish(self, report):
        self.report = report
        self.progress = 1.0 if report is not None and report.ok else self.progress
        self.running = False
        self.dispatch("on_finished", report)

    def _fail(self, exc):
        from field_app.core.models import SyncReport

        self._finish(SyncReport(ok=False, error=str(exc) or exc.__class__.__name__, error_kind="app_error"))

    def on_finished(self, report):
        pass
