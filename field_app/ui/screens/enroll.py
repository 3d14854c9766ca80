"""Enrollment: the server's address and a one-time code (typed, or the QR code's text), then the first download."""
from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from ..background import run_in_thread
from ..i18n import tr

DEFAULT_SERVER = "http://127.0.0.1:5000"


class EnrollScreen(Screen):
    busy = BooleanProperty(False)
    status = StringProperty("")
    error = StringProperty("")

    def prepare(self, **_):
        core = App.get_running_app().core
        if not self.ids.server.text:
            self.ids.server.text = core.setting("server_url") or DEFAULT_SERVER
        self.error = ""

    def read_qr(self):
        """Fill the server and code from a QR code's text (wangge://enroll?server=...&code=...)."""
        text = self.ids.qr.text.strip()
        if not text:
            return
        try:
            server, code = App.get_running_app().core.parse_qr(text)
        except ValueError:
            self.error = tr("enroll.bad_qr")
            return
        self.ids.server.text, self.ids.code.text = server, code
        self.error = ""
        self.status = tr("enroll.qr_read")

    def enroll(self):
        if self.busy:
            return
        server, code = self.ids.server.text.strip(), self.ids.code.text.strip()
        if not server or not code:
            self.error = tr("enroll.missing")
            return
        app = App.get_running_app()
        label = self.ids.label.text.strip() or None
        self.busy, self.error, self.status = True, "", tr("enroll.connecting")
        trigger_progress = self._progress  # bound method; the worker only schedules it

        def work():
            return app.core.enroll(server, code, label=label, progress=trigger_progress)

        run_in_thread(work, self._done, self._failed, name="wangge-enroll")

    def _progress(self, *args):
        # called in the worker thread: hand the words to the main thread
        from kivy.clock import Clock

        Clock.schedule_once(lambda dt: self._show_progress(*args), 0)

    def _show_progress(self, *args):
        phase = args[-1] if args else ""
        if len(args) >= 3 and args[1]:
            self.status = tr("enroll.downloading", phase=tr(f"phase.{phase}"), done=args[0], total=args[1])
        else:
            self.status = tr("enroll.downloading_plain", phase=tr(f"phase.{phase}") if phase else "")

    def _done(self, enrollment):
        self.busy = False
        self.status = tr("enroll.done", name=enrollment.display_name or enrollment.username)
        self.ids.code.text = ""
        App.get_running_app().enrolled_now()

    def _failed(self, exc):
        self.busy = False
        self.status = ""
        self.error = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
