"""Form editors built from the served field specs (field_app.core.forms.FieldSpec), one class per field type.

Every editor has `get_value()` (JSON-ready, None when empty) and `set_value(value)`. A `FieldBox` puts the label,
the editor and the field's error message together. Editors that need the record or the core (location, photos,
record links) get a `FormContext` from the form screen.
"""
from __future__ import annotations

from datetime import date, datetime

from kivy.metrics import dp
from kivy.properties import ListProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.checkbox import CheckBox
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.spinner import Spinner
from kivy.uix.textinput import TextInput

from ..background import run_in_thread
from ..i18n import pick, tr

FIELD_HEIGHT = dp(44)


class FormContext:
    """What editors may ask of the form: the core, the record being edited, its grid, a way to save it first."""

    def __init__(self, core, get_record, get_grid_code, ensure_saved, on_change=None):
        self.core = core
        self.get_record = get_record
        self.get_grid_code = get_grid_code
        self.ensure_saved = ensure_saved
        self.on_change = on_change or (lambda: None)


def words(message) -> str:
    """A field error (a string, a list of them, or a dict for nested items) as one line of text."""
    if message is None:
        return ""
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        return "; ".join(f"{_item_name(key)}: {words(value)}" for key, value in message.items())
    if isinstance(message, (list, tuple)):
        return "; ".join(words(item) for item in message)
    return str(message)


def _item_name(key) -> str:
    return tr("form.item_n", n=int(key) + 1) if str(key).isdigit() else str(key)


def spec_label(spec) -> str:
    text = pick(spec.label)
    if getattr(spec, "confidential", False):
        text += tr("form.confidential_mark")
    if spec.required:
        text += " *"
    return text


# -- simple editors -------------------------------------------------------------------------------------------
class TextEditor(TextInput):
    def __init__(self, spec, context=None, **kwargs):
        multiline = spec.type == "textarea"
        kwargs.setdefault("multiline", multiline)
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", dp(110) if multiline else FIELD_HEIGHT)
        kwargs.setdefault("write_tab", False)
        if spec.type == "phone":
            kwargs.setdefault("input_filter", lambda text, undo: "".join(c for c in text if c in "+0123456789- "))
            kwargs.setdefault("input_type", "tel")
            kwargs.setdefault("hint_text", "13800000000")
        super().__init__(**kwargs)
        self.spec = spec

    def get_value(self):
        text = self.text.strip()
        return text or None

    def set_value(self, value):
        self.text = "" if value is None else str(value)


class IntegerEditor(TextInput):
    def __init__(self, spec, context=None, **kwargs):
        super().__init__(multiline=False, input_filter="int", input_type="number", size_hint_y=None,
                         height=FIELD_HEIGHT, write_tab=False, **kwargs)
        self.spec = spec
        low, high = getattr(spec, "min", None), getattr(spec, "max", None)
        if low is not None or high is not None:
            self.hint_text = f"{'' if low is None else low} – {'' if high is None else high}"

    def get_value(self):
        text = self.text.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            return text  # the core's validation names it

    def set_value(self, value):
        self.text = "" if value is None else str(value)


class BooleanEditor(BoxLayout):
    def __init__(self, spec, context=None, **kwargs):
        super().__init__(size_hint_y=None, height=FIELD_HEIGHT, **kwargs)
        self.spec = spec
        self.box = CheckBox(size_hint_x=None, width=dp(44))
        self.add_widget(self.box)
        self.add_widget(Label(text=tr("form.yes"), size_hint_x=None, width=dp(60)))
        self.add_widget(Label())

    def get_value(self):
        return bool(self.box.active)

    def set_value(self, value):
        self.box.active = bool(value)


class ChoiceEditor(Spinner):
    """One of the served choices; shows their labels, returns their values."""

    def __init__(self, spec, context=None, **kwargs):
        self.spec = spec
        self.labels = [(value, pick(label)) for value, label in spec.choices]
        super().__init__(text=tr("form.choose"), values=[label for _, label in self.labels], size_hint_y=None,
                         height=FIELD_HEIGHT, **kwargs)

    def get_value(self):
        for value, label in self.labels:
            if label == self.text:
                return value
        return None

    def set_value(self, value):
        self.text = next((label for v, label in self.labels if v == value), tr("form.choose"))

    def select(self, value):
        self.set_value(value)


class MultiChoiceEditor(GridLayout):
    def __init__(self, spec, context=None, **kwargs):
        super().__init__(cols=3, size_hint_y=None, spacing=dp(4), **kwargs)
        self.bind(minimum_height=self.setter("height"))
        self.spec = spec
        self.boxes = {}
        for value, label in spec.choices:
            row = BoxLayout(size_hint_y=None, height=dp(40))
            box = CheckBox(size_hint_x=None, width=dp(40))
            row.add_widget(box)
            text = Label(text=pick(label), halign="left", valign="middle")
            text.bind(size=lambda widget, size: setattr(widget, "text_size", size))
            row.add_widget(text)
            self.boxes[value] = box
            self.add_widget(row)

    def get_value(self):
        chosen = [value for value, box in self.boxes.items() if box.active]
        return chosen or None

    def set_value(self, value):
        for key, box in self.boxes.items():
            box.active = key in (value or [])


class DateEditor(BoxLayout):
    """A date typed as YYYY-MM-DD (with a 'today' button)."""

    def __init__(self, spec, context=None, **kwargs):
        super().__init__(size_hint_y=None, height=FIELD_HEIGHT, spacing=dp(6), **kwargs)
        self.spec = spec
        with_time = spec.type == "datetime"
        self.input = TextInput(multiline=False, write_tab=False,
                               hint_text="YYYY-MM-DD HH:MM" if with_time else "YYYY-MM-DD")
        self.add_widget(self.input)
        self.now_button = Button(text=tr("form.now" if with_time else "form.today"), size_hint_x=None, width=dp(90))
        self.now_button.bind(on_release=lambda *_: self.fill_now())
        self.add_widget(self.now_button)

    def fill_now(self):
        self.input.text = (datetime.now().strftime("%Y-%m-%d %H:%M") if self.spec.type == "datetime"
                           else date.today().isoformat())

    def get_value(self):
        text = self.input.text.strip()
        if not text:
            return None
        if self.spec.type == "date":
            return text
        return parse_local_datetime(text) or text  # the core's validation names a bad one

    def set_value(self, value):
        if not value:
            self.input.text = ""
        elif self.spec.type == "datetime":
            self.input.text = show_local_datetime(value)
        else:
            self.input.text = str(value)


def parse_local_datetime(text: str) -> str | None:
    """'2026-11-27 14:20' (local time) -> '2026-11-27T14:20:00+08:00'; ISO text with an offset is kept."""
    text = text.strip().replace("/", "-")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).astimezone().isoformat(timespec="seconds")
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.astimezone()).isoformat(timespec="seconds")


def show_local_datetime(value) -> str:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M")


# -- composite editors ----------------------------------------------------------------------------------------
class LocationEditor(BoxLayout):
    """GPS or a typed longitude/latitude, with a warning when the point lies outside the record's grid."""

    status = StringProperty("")
    warning = StringProperty("")
    context = ObjectProperty(None, allownone=True)

    def __init__(self, spec, context=None, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.context = context
        self.source = "manual"
        self.accuracy = None
        self._filling = False
        self.ids.lon.bind(text=self._typed)
        self.ids.lat.bind(text=self._typed)

    def use_gps(self):
        if self.context is None:
            return
        self.status = tr("location.locating")
        self.ids.gps.disabled = True
        run_in_thread(self.context.core.current_location, self._located, self._gps_failed, name="wangge-gps")

    def _located(self, fix):
        self.ids.gps.disabled = False
        if not fix:
            self.status = tr("location.no_fix")
            return
        self._filling = True
        self.ids.lon.text = f"{float(fix['lon']):.6f}"
        self.ids.lat.text = f"{float(fix['lat']):.6f}"
        self._filling = False
        self.source = fix.get("source", "gps")
        self.accuracy = fix.get("accuracy_m")
        self.status = (tr("location.gps_ok", accuracy=round(self.accuracy)) if self.accuracy is not None
                       else tr("location.gps_ok_plain"))
        self.check_grid()

    def _gps_failed(self, _exc):
        self.ids.gps.disabled = False
        self.status = tr("location.no_fix")

    def _typed(self, *_):
        if not self._filling:
            self.source, self.accuracy = "manual", None
            self.status = tr("location.manual") if (self.ids.lon.text or self.ids.lat.text) else ""
        self.check_grid()

    def point(self):
        try:
            return float(self.ids.lon.text), float(self.ids.lat.text)
        except ValueError:
            return None

    def check_grid(self):
        point = self.point()
        self.warning = ""
        if point is None or self.context is None:
            return
        grid = self.context.get_grid_code()
        try:
            inside = self.context.core.in_my_grid(grid, *point)
        except Exception:  # an unknown grid or a bad number: the form's validation speaks for it
            return
        if not inside:
            self.warning = tr("location.outside", grid=grid)

    def get_value(self):
        lon, lat = self.ids.lon.text.strip(), self.ids.lat.text.strip()
        if not lon and not lat:
            return None
        point = self.point()
        if point is None:
            return {"lon": lon, "lat": lat, "source": "manual"}  # the core's validation names it
        value = {"lon": point[0], "lat": point[1], "source": self.source}
        if self.accuracy is not None:
            value["accuracy_m"] = float(self.accuracy)
        return value

    def set_value(self, value):
        self._filling = True
        self.ids.lon.text = "" if not value else str(value.get("lon", ""))
        self.ids.lat.text = "" if not value else str(value.get("lat", ""))
        self._filling = False
        self.source = (value or {}).get("source", "manual")
        self.accuracy = (value or {}).get("accuracy_m")
        self.check_grid()


class PhotosEditor(BoxLayout):
    """The photos' digests; new ones come from the camera (Android) or a file chooser (desktop)."""

    summary = StringProperty("")
    context = ObjectProperty(None, allownone=True)
    digests = ListProperty()

    def __init__(self, spec, context=None, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.context = context
        self._show()

    def add_photo(self):
        from .. import platform_services

        platform_services.pick_photo(self.attach)

    def attach(self, path):
        """Copy a photo into the record (through the core) and list its digest."""
        if not path or self.context is None:
            return None
        record = self.context.ensure_saved()
        digest = self.context.core.attach_photo(record, path, field=self.spec.name)
        if digest not in self.digests:
            self.digests.append(digest)
        self._show()
        self.context.on_change()
        return digest

    def remove_last(self):
        if self.digests:
            self.digests.pop()
            self._show()

    def _show(self):
        self.summary = tr("photos.count", count=len(self.digests))
        self.ids.list.text = "  ".join(d[:10] + "…" for d in self.digests)

    def get_value(self):
        return list(self.digests) or None

    def set_value(self, value):
        self.digests = list(value or [])
        self._show()


class RepeatEditor(BoxLayout):
    """people / households: a list of small sub-forms with add and remove."""

    context = ObjectProperty(None, allownone=True)

    def __init__(self, spec, context=None, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.context = context
        self.items: list[RepeatItem] = []
        for _ in range(max(spec.min_items or 0, 1 if spec.required else 0)):
            self.add_item()
        self._update_buttons()

    def add_item(self, value=None):
        if self.spec.max_items and len(self.items) >= self.spec.max_items:
            return None
        item = RepeatItem(self.spec, self.context, self)
        self.items.append(item)
        self.ids.item_box.add_widget(item)
        if value:
            item.set_value(value)
        self._update_buttons()
        return item

    def remove_item(self, item):
        if item in self.items:
            self.items.remove(item)
            self.ids.item_box.remove_widget(item)
        self._update_buttons()

    def _update_buttons(self):
        self.ids.add.disabled = bool(self.spec.max_items and len(self.items) >= self.spec.max_items)
        for n, item in enumerate(self.items):
            item.number = str(n + 1)

    def get_value(self):
        values = [item.get_value() for item in self.items]
        values = [value for value in values if value]
        return values or None

    def set_value(self, value):
        for item in list(self.items):
            self.remove_item(item)
        for entry in value or []:
            self.add_item(entry)
        if not self.items and self.spec.required:
            self.add_item()

    def show_item_errors(self, errors):
        """Nested errors {index: {field: message}} shown on each row."""
        for item in self.items:
            item.show_errors({})
        if isinstance(errors, dict):
            for key, message in errors.items():
                if str(key).isdigit() and int(key) < len(self.items):
                    self.items[int(key)].show_errors(message if isinstance(message, dict) else {})


class RepeatItem(BoxLayout):
    number = StringProperty("1")

    def __init__(self, spec, context, owner, **kwargs):
        super().__init__(**kwargs)
        self.owner = owner
        self.boxes = {}
        for sub in spec.item_fields:
            box = FieldBox(sub, context, compact=True)
            self.boxes[sub.name] = box
            self.ids.cells.add_widget(box)

    def get_value(self):
        value = {}
        for name, box in self.boxes.items():
            item = box.get_value()
            if item not in (None, "", []):
                value[name] = item
        return value

    def set_value(self, value):
        for name, box in self.boxes.items():
            box.set_value((value or {}).get(name))

    def show_errors(self, errors):
        for name, box in self.boxes.items():
            box.error = words(errors.get(name)) if isinstance(errors, dict) else ""


class RecordRefsEditor(GridLayout):
    """Links to other records on this tablet (a visit round's issues found)."""

    def __init__(self, spec, context=None, **kwargs):
        super().__init__(cols=1, size_hint_y=None, spacing=dp(2), **kwargs)
        self.bind(minimum_height=self.setter("height"))
        self.spec = spec
        self.boxes = {}
        current = context.get_record() if context else None
        records = context.core.records() if context else []
        from ..summaries import record_title

        for record in records:
            if current is not None and record.id == current.id or record.category == "visit_round":
                continue
            row = BoxLayout(size_hint_y=None, height=dp(38))
            box = CheckBox(size_hint_x=None, width=dp(40))
            row.add_widget(box)
            row.add_widget(Label(text=record_title(context.core, record), shorten=True, halign="left",
                                 text_size=(dp(600), None)))
            self.boxes[record.id] = box
            self.add_widget(row)
        if not self.boxes:
            self.add_widget(Label(text=tr("form.no_records_to_link"), size_hint_y=None, height=dp(32)))

    def get_value(self):
        return [rid for rid, box in self.boxes.items() if box.active] or None

    def set_value(self, value):
        for rid, box in self.boxes.items():
            box.active = rid in (value or [])


EDITORS = {
    "text": TextEditor, "textarea": TextEditor, "phone": TextEditor, "integer": IntegerEditor,
    "boolean": BooleanEditor, "choice": ChoiceEditor, "multichoice": MultiChoiceEditor, "date": DateEditor,
    "datetime": DateEditor, "location": LocationEditor, "photos": PhotosEditor, "people": RepeatEditor,
    "households": RepeatEditor, "record_refs": RecordRefsEditor,
}


class FieldBox(BoxLayout):
    """A field's label, its editor and its error message."""

    label_text = StringProperty("")
    error = StringProperty("")
    name = StringProperty("")

    def __init__(self, spec, context=None, compact=False, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.name = spec.name
        self.label_text = spec_label(spec)
        self.editor = EDITORS.get(spec.type, TextEditor)(spec, context)
        if compact:
            self.ids.label.height = dp(22)
            self.ids.label.font_size = "14sp"
        self.ids.body.add_widget(self.editor)

    def get_value(self):
        return self.editor.get_value()

    def set_value(self, value):
        self.editor.set_value(value)

    def show_error(self, message):
        self.error = words(message)
        if isinstance(self.editor, RepeatEditor):
            self.editor.show_item_errors(message if isinstance(message, dict) else {})
