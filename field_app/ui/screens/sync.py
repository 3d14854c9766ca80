"""Sync: a progress bar, what happened to each record in plain words, retry and cancel."""
from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from ..i18n import tr
from ..summaries import record_title, result_words, sync_error_words


class SyncScreen(Screen):
    headline = StringProperty("")
    error = StringProperty("")
    failed = BooleanProperty(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._bound = False

    def prepare(self, start=False, **_):
        app = App.get_running_app()
        if not self._bound:
            app.sync.bind(on_finished=lambda _runner, report: self.show_report(report))
            self._bound = True
        if app.sync.report is not None and not app.sync.running:
            self.show_report(app.sync.report)
        if start:
            self.start()

    def start(self):
        app = App.get_running_app()
        if app.start_sync():
            self.headline, self.error, self.failed = tr("sync.running"), "", False
            self.ids.results.data = []

    def cancel(self):
        App.get_running_app().sync.cancel()

    def show_report(self, report):
        if report is None:
            return
        core = App.get_running_app().core
        self.failed = not report.ok
        if report.ok:
            self.headline = tr("sync.done", pushed=report.pushed, pulled=report.pulled)
            self.error = ""
        else:
            self.headline = tr("sync.stopped")
            self.error = sync_error_words(report.error_kind, report.error)
        rows = []
        for result in report.results:
            try:
                title = record_title(core, core.record(result.record_id))
            except Exception:  # the record is gone (a receipt replaced it)
                title = result.record_id[:8]
            rows.append({"text": f"{title}\n{result_words(result.outcome, result.message, result.errors)}",
                         "outcome": result.outcome})
        self.ids.results.data = rows

    def phase_words(self, phase, done, total):
        if not phase:
            return ""
        text = tr(f"phase.{phase}")
        return f"{text}  {int(done)}/{int(total)}" if total else text
