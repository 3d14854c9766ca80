"""A record's form, built from the served category (one editor per field), for new records and for fixing
returned or refused ones. Every save is committed (by the core) before the screen moves on; leaving the screen,
pausing or stopping the app saves what was typed as a draft.
"""
from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from ..i18n import pick, tr
from ..summaries import state_word
from ..widgets.common import state_color
from ..widgets.fields import FieldBox, FormContext, words

EMPTY = (None, "", [], {})


class RecordFormScreen(Screen):
    record = ObjectProperty(None, allownone=True)
    title = StringProperty("")
    state_text = StringProperty("")
    state_rgba = ListProperty([0.5, 0.5, 0.5, 1])
    comment = StringProperty("")        # the supervisor's words on a returned record
    problems = StringProperty("")       # why the server refused it, or general validation words
    conflicts_text = StringProperty("")
    confidential = BooleanProperty(False)
    grid_choices = ListProperty()
    grid_code = StringProperty("")
    return_to = StringProperty("home")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.form = None
        self.boxes: dict[str, FieldBox] = {}
        self._saved_values = None

    # -- opening ------------------------------------------------------------------------------------------
    def prepare(self, category=None, record_id=None, return_to=None, **_):
        app = App.get_running_app()
        core = app.core
        if record_id is not None:
            record = core.record(record_id)
            self.return_to = return_to or "records"
        else:
            record = core.new_record(category)
            self.return_to = return_to or "home"
        self.open(record)

    def open(self, record):
        core = App.get_running_app().core
        self.record = record
        self.form = core.form(record.category)
        self.confidential = bool(getattr(self.form, "confidential", False))
        self.grid_choices = list(core.my_grids())
        self.grid_code = record.grid_code or (self.grid_choices[0] if self.grid_choices else "")
        self._build()
        self._show_record_state()
        self._saved_values = self.collect()
        self.ids.scroll.scroll_y = 1

    def _build(self):
        core = App.get_running_app().core
        context = FormContext(core, lambda: self.record, lambda: self.grid_code, self.ensure_saved)
        container = self.ids.fields
        container.clear_widgets()
        self.boxes = {}
        for spec in self.form.fields:
            box = FieldBox(spec, context)
            if spec.name in (self.record.fields or {}):
                box.set_value(self.record.fields[spec.name])
            self.boxes[spec.name] = box
            container.add_widget(box)

    def _show_record_state(self):
        record = self.record
        self.title = pick(self.form.label) + (tr("form.editing") if record.server_version else tr("form.new"))
        self.state_text = state_word(record.state)
        self.state_rgba = list(state_color(record.state))
        self.comment = record.status_comment or "" if record.state in ("returned", "rejected", "conflict") \
            or record.status == "returned" else ""
        self.conflicts_text = "\n".join(
            tr("form.conflict_line", field=self._field_label(c.get("field")), server=c.get("server_value"),
               device=c.get("device_value")) for c in (record.conflicts or []))
        self.show_errors(record.errors or {})

    def _field_label(self, name):
        box = self.boxes.get(name)
        return pick(box.spec.label) if box else str(name)

    # -- values -------------------------------------------------------------------------------------------
    def collect(self) -> dict:
        """The typed values, JSON-ready. Empty fields are left out, unless the record held a value (then None
        clears it)."""
        held = self.record.fields if self.record is not None else {}
        values = {}
        for name, box in self.boxes.items():
            value = box.get_value()
            if value not in EMPTY or name in (held or {}):
                values[name] = None if value in EMPTY else value
        return values

    def dirty(self) -> bool:
        if self.record is None:
            return False
        return self.collect() != self._saved_values or self.grid_code != (self.record.grid_code or self.grid_code)

    def _apply(self):
        self.record.fields = self.collect()
        self.record.grid_code = self.grid_code

    def show_errors(self, errors: dict):
        """Field messages on their fields; anything not about a field in the box at the top."""
        if isinstance(errors.get("fields"), dict):
            errors = {**{k: v for k, v in errors.items() if k != "fields"}, **errors["fields"]}
        general = []
        for box in self.boxes.values():
            box.show_error(None)
        for key, message in errors.items():
            name = str(key).split(".")[0]
            if name in self.boxes:
                self.boxes[name].show_error(message)
            else:
                general.append(f"{key}: {words(message)}" if key not in ("_", "_schema", "record") else words(message))
        self.problems = "\n".join(general)
        if errors:
            self.problems = (tr("form.fix_errors", count=len(errors)) + ("\n" + self.problems if general else ""))

    # -- saving -------------------------------------------------------------------------------------------
    def ensure_saved(self):
        """Save before something needs the record in the store (attaching a photo)."""
        self.save_draft(quiet=True)
        return self.record

    def save_draft(self, quiet=False):
        app = App.get_running_app()
        self._apply()
        self.record = app.core.save_draft(self.record)
        self._saved_values = self.collect()
        self._show_record_state()
        app.refresh_state()
        if not quiet:
            app.toast(tr("form.saved"))
        return self.record

    def submit(self):
        """Validate; a valid record goes to the outbox, an invalid one is kept as a draft with its errors shown."""
        from field_app.core.errors import ValidationFailed

        app = App.get_running_app()
        self._apply()
        errors = app.core.validate(self.record)
        if errors:
            self.save_draft(quiet=True)   # nothing typed is lost, even when it cannot be sent yet
            self.show_errors(errors)
            app.toast(tr("form.not_sent"))
            return False
        try:
            self.record = app.core.submit(self.record)
        except ValidationFailed as exc:
            self.save_draft(quiet=True)
            self.show_errors(exc.errors)
            app.toast(tr("form.not_sent"))
            return False
        self._saved_values = self.collect()
        self.show_errors({})
        app.refresh_state()
        app.toast(tr("form.queued"))
        self.record = None  # submitted: leaving must not save it again as a draft
        app.show(self.return_to if self.return_to != "home" else "records")
        app.auto_sync_tick()  # upload now when the network is there
        return True

    def commit_typing(self):
        """Save what was typed as a draft, if anything changed (leaving, pausing, stopping, before a sync)."""
        if self.record is not None and self.dirty():
            self.save_draft(quiet=True)

    def leave(self):
        self.commit_typing()

    def back(self):
        App.get_running_app().show(self.return_to)

    def set_grid(self, code):
        self.grid_code = code
        location = self.boxes.get("location")
        if location is not None and hasattr(location.editor, "check_grid"):
            location.editor.check_grid()
