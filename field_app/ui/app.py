"""The Kivy App: builds the core, loads the kv files, holds app-wide state as properties. No business logic here.

Screens are small classes under `screens/`, each with its `.kv` file; they read and write through `app.core`
(field_app.core.FieldCore, which never imports Kivy). Screens other than enroll and home are created the first time
they are shown, which keeps start-up short.
"""
from __future__ import annotations

import importlib
import os
import time
from datetime import datetime, timezone

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.logger import Logger
from kivy.properties import (BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty)
from kivy.uix.screenmanager import NoTransition, ScreenManager
from kivy.utils import platform

from . import fonts, i18n
from .background import SyncRunner, run_in_thread
from .i18n import tr

HERE = os.path.dirname(os.path.abspath(__file__))
KV_FILES = ("widgets/common.kv", "widgets/fields.kv")
# screen name -> module under field_app.ui.screens (module file, kv file and class share the name)
SCREENS = {
    "enroll": "EnrollScreen",
    "home": "HomeScreen",
    "record_form": "RecordFormScreen",
    "records": "RecordsScreen",
    "sync": "SyncScreen",
    "grid_map": "GridMapScreen",
    "settings": "SettingsScreen",
}
CLOCK_SKEW_WARN_S = 300
AUTO_SYNC_INTERVAL_S = 30


def default_data_dir() -> str:
    if platform == "android":
        from android.storage import app_storage_path  # noqa: import only exists on Android

        return os.path.join(app_storage_path(), "wangge")
    return os.path.join(os.path.expanduser("~"), ".wangge-field")


class WanggeApp(App):
    title = "网格 Wangge"

    language = StringProperty(i18n.DEFAULT)
    enrolled = BooleanProperty(False)
    display_name = StringProperty("")
    username = StringProperty("")
    grids = ListProperty()
    outbox_count = NumericProperty(0)
    last_sync_text = StringProperty("")
    warnings = ListProperty()
    font_path = StringProperty("")
    records_version = NumericProperty(0)   # bumped whenever local records change (lists refresh on it)
    sync = ObjectProperty(None, allownone=True)
    toast_text = StringProperty("")

    def __init__(self, core=None, data_dir: str | None = None, auto_sync_interval: float = AUTO_SYNC_INTERVAL_S,
                 **kwargs):
        super().__init__(**kwargs)
        self.core = core
        self.data_dir = data_dir
        self.auto_sync_interval = auto_sync_interval
        self.screen_manager: ScreenManager | None = None
        self._auto_event = None
        self._probe_running = False
        self._was_reachable: bool | None = None
        self._toast_event = None
        self.started_at = time.perf_counter()

    # -- building -----------------------------------------------------------------------------------------
    def build(self):
        if self.core is None:
            from field_app.core.app import FieldCore

            self.core = FieldCore(self.data_dir or default_data_dir())
        self.language = i18n.set_language(self.core.setting("language", i18n.DEFAULT) or i18n.DEFAULT)
        self.font_path = fonts.install_default_font(self.core.setting("font_path")) or ""
        from .widgets import common, fields  # noqa: F401  (registers the classes the kv rules use)

        for name in KV_FILES:
            self._load_kv(os.path.join(HERE, name))
        self.sync = SyncRunner(self.core)
        self.sync.bind(on_finished=self._sync_finished)
        self.screen_manager = ScreenManager(transition=NoTransition())
        self.refresh_state()
        self.show("home" if self.enrolled else "enroll")
        if self.auto_sync_interval:
            self._auto_event = Clock.schedule_interval(self.auto_sync_tick, self.auto_sync_interval)
        return self.screen_manager

    @staticmethod
    def _load_kv(path):
        Builder.unload_file(path)  # a rebuilt app in the same process (tests) must not load rules twice
        Builder.load_file(path)

    def screen(self, name):
        """The screen called `name`, created (and its kv loaded) on first use."""
        if self.screen_manager.has_screen(name):
            return self.screen_manager.get_screen(name)
        module = importlib.import_module(f"field_app.ui.screens.{name}")  # registers its widget classes
        self._load_kv(os.path.join(HERE, "screens", f"{name}.kv"))
        widget = getattr(module, SCREENS[name])(name=name)
        self.screen_manager.add_widget(widget)
        return widget

    def show(self, name, **kwargs):
        """Go to a screen; `prepare(**kwargs)` lets it load what it shows before it appears."""
        widget = self.screen(name)
        current = self.screen_manager.current_screen
        if current is not None and current is not widget and hasattr(current, "leave"):
            current.leave()  # e.g. the form commits what was typed before the screen moves on
        if hasattr(widget, "prepare"):
            widget.prepare(**kwargs)
        self.screen_manager.current = name
        return widget

    def go_home(self, *_):
        return self.show("home" if self.enrolled else "enroll")

    # -- app-wide state -----------------------------------------------------------------------------------
    def refresh_state(self, *_):
        core = self.core
        self.enrolled = bool(core.is_enrolled())
        enrollment = core.enrollment() if self.enrolled else None
        self.display_name = (enrollment.display_name or enrollment.username) if enrollment else ""
        self.username = enrollment.username if enrollment else ""
        self.grids = list(core.my_grids()) if self.enrolled else []
        if not self.enrolled:
            self.outbox_count, self.last_sync_text, self.warnings = 0, "", []
            return
        health = core.health()
        self.outbox_count = health.outbox_depth
        self.last_sync_text = format_time(health.last_success_at) if health.last_success_at else ""
        self.warnings = health_warnings(health, self.sync.report if self.sync else None,
                                        rejected=len(core.records(["rejected"])))
        self.records_version += 1

    def on_language(self, _, lang):
        i18n.set_language(lang)
        if self.core is not None and self.core.setting("language", i18n.DEFAULT) != lang:
            self.core.set_setting("language", lang)
        if self.enrolled and self.core is not None:
            self.refresh_state()

    def set_font(self, path: str) -> bool:
        """Remember a font setting; it takes effect now for new text and fully after a restart."""
        path = (path or "").strip()
        if path and fonts.find_cjk_font(path, candidates=()) is None:
            return False
        self.core.set_setting("font_path", path or None)
        self.font_path = fonts.install_default_font(path or None) or ""
        return True

    def toast(self, text: str, seconds: float = 3.0):
        self.toast_text = text
        if self._toast_event is not None:
            self._toast_event.cancel()
        self._toast_event = Clock.schedule_once(lambda dt: setattr(self, "toast_text", ""), seconds)

    # -- enrollment ---------------------------------------------------------------------------------------
    def enrolled_now(self):
        self.refresh_state()
        self.show("home")

    # -- sync ---------------------------------------------------------------------------------------------
    def start_sync(self, automatic: bool = False) -> bool:
        if not self.enrolled:
            return False
        self.commit_typing()  # what is on the form is committed before the sync reads the store
        return self.sync.start(automatic=automatic)

    def _sync_finished(self, _runner, report):
        self.refresh_state()
        if report is not None and not report.ok and report.error_kind in ("network", "timeout"):
            self._was_reachable = False
        for name in ("records", "home"):
            if self.screen_manager.has_screen(name):
                self.screen_manager.get_screen(name).refresh()

    def auto_sync_tick(self, *_):
        """Check the network in a worker; sync when it has just appeared, or when it is there and work waits."""
        if not self.enrolled or self.sync.running or self._probe_running:
            return
        if not self.core.setting("auto_sync", True):
            return
        self._probe_running = True

        def done(reachable):
            self._probe_running = False
            appeared = reachable and self._was_reachable is not True
            self._was_reachable = bool(reachable)
            if reachable and (appeared or self.outbox_count > 0):
                Logger.info("Wangge: network available, syncing automatically")
                self.start_sync(automatic=True)

        def failed(_exc):
            self._probe_running = False
            self._was_reachable = False

        run_in_thread(lambda: self.core.server_reachable(timeout=3), done, failed, name="wangge-probe")

    # -- life cycle ---------------------------------------------------------------------------------------
    def commit_typing(self):
        if self.screen_manager is not None and self.screen_manager.has_screen("record_form"):
            self.screen_manager.get_screen("record_form").commit_typing()

    def on_pause(self):
        self.commit_typing()
        return True

    def on_resume(self):
        self.refresh_state()

    def on_stop(self):
        self.commit_typing()
        for event in (self._auto_event, self._toast_event):
            if event is not None:
                event.cancel()
        self._auto_event = self._toast_event = None
        if self.sync is not None and self.sync.running:
            self.sync.cancel()
            self.sync.wait(10)
        if self.core is not None:
            self.core.close()


def format_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def health_warnings(health, last_report=None, rejected: int = 0) -> list[str]:
    """The tablet's warnings in the user's language, from the core's health figures."""
    words = []
    offset = health.clock_offset_s
    if offset is not None and abs(offset) > CLOCK_SKEW_WARN_S:
        words.append(tr("warn.clock_skew", minutes=round(abs(offset) / 60),
                        direction=tr("warn.slow" if offset > 0 else "warn.fast")))
    if health.last_error:
        words.append(tr("warn.sync_failing", error=health.last_error))
    elif last_report is not None and not last_report.ok and last_report.error_kind not in ("cancelled", "busy"):
        words.append(tr("warn.sync_failing", error=last_report.error or last_report.error_kind or ""))
    if health.oldest_unsent_age_s is not None and health.oldest_unsent_age_s > 24 * 3600:
        words.append(tr("warn.old_unsent", hours=health.oldest_unsent_age_s // 3600))
    if health.failed_attachments:
        words.append(tr("warn.photos_failed", count=health.failed_attachments))
    if rejected:
        words.append(tr("warn.rejected", count=rejected))
    return words


def main(data_dir: str | None = None):
    WanggeApp(data_dir=data_dir).run()
