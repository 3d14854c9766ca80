"""Home: my grid(s), what waits to upload, the last successful sync, the tablet's warnings, and where to go next."""
from __future__ import annotations

from kivy.app import App
from kivy.factory import Factory
from kivy.metrics import dp
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from ..i18n import pick, tr


class HomeScreen(Screen):
    grids_text = StringProperty("")

    def prepare(self, **_):
        self.refresh()

    def on_pre_enter(self, *_):
        App.get_running_app().refresh_state()
        self.refresh()

    def refresh(self):
        app = App.get_running_app()
        self.grids_text = "\n".join(app.grids) if app.grids else tr("home.no_grid")
        self._build_category_buttons(app)

    def _build_category_buttons(self, app):
        box = self.ids.new_buttons
        box.clear_widgets()
        if not app.enrolled:
            return
        for form in app.core.categories():
            button = Factory.PrimaryButton(text=tr("home.new", label=pick(form.label)))
            button.category = form.key
            if getattr(form, "confidential", False):
                button.background_color = (0.45, 0.25, 0.55, 1)
            button.bind(on_release=lambda b: app.show("record_form", category=b.category))
            box.add_widget(button)
        box.height = len(box.children) * (dp(52) + box.spacing)

    def new_record_button(self, category):
        """The 'new record' button of a category (tests press it)."""
        return next(b for b in self.ids.new_buttons.children if getattr(b, "category", None) == category)
