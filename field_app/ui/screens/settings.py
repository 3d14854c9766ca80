"""Settings: language, server address, font, automatic sync; who this tablet belongs to."""
from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from ... import __version__
from ..i18n import tr


class SettingsScreen(Screen):
    device_text = StringProperty("")
    font_error = StringProperty("")
    auto_sync = BooleanProperty(True)
    version = StringProperty(__version__)

    def prepare(self, **_):
        app = App.get_running_app()
        core = app.core
        enrollment = core.enrollment()
        self.ids.server.text = core.setting("server_url") or (enrollment.server_url if enrollment else "")
        self.ids.font.text = core.setting("font_path") or ""
        self.auto_sync = bool(core.setting("auto_sync", True))
        self.font_error = ""
        if enrollment:
            self.device_text = tr("settings.device_info", user=enrollment.display_name or enrollment.username,
                                  username=enrollment.username, device=enrollment.device_uid,
                                  grids=", ".join(enrollment.grids))
        else:
            self.device_text = tr("settings.not_enrolled")

    def set_language(self, lang):
        App.get_running_app().language = lang
        self.prepare()

    def save_server(self):
        url = self.ids.server.text.strip()
        if url and not url.startswith(("http://", "https://")):
            App.get_running_app().toast(tr("settings.bad_server"))
            return
        App.get_running_app().core.set_setting("server_url", url or None)
        App.get_running_app().toast(tr("settings.saved"))

    def save_font(self):
        app = App.get_running_app()
        if app.set_font(self.ids.font.text):
            self.font_error = ""
            app.toast(tr("settings.font_saved"))
        else:
            self.font_error = tr("settings.font_missing")

    def set_auto_sync(self, active):
        self.auto_sync = bool(active)
        App.get_running_app().core.set_setting("auto_sync", self.auto_sync)
