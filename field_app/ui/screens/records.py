"""My records, newest first, each with its state; a returned, refused or conflicting one opens in the form to fix."""
from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen

from ..i18n import tr
from ..summaries import category_label, record_summary, state_word
from ..widgets.common import state_color

ATTENTION = ("returned", "rejected", "conflict")
FILTERS = {"all": None, "attention": ATTENTION, "draft": ("draft",), "waiting": ("waiting",),
           "uploaded": ("uploaded",)}


class RecordRow(ButtonBehavior, BoxLayout):
    record_id = StringProperty("")
    title = StringProperty("")
    summary = StringProperty("")
    detail = StringProperty("")
    state_text = StringProperty("")
    state_rgba = ListProperty([0.5, 0.5, 0.5, 1])
    attention = BooleanProperty(False)

    def on_release(self):
        App.get_running_app().screen("records").open_record(self.record_id)


class RecordsScreen(Screen):
    filter = StringProperty("all")
    count_text = StringProperty("")

    def prepare(self, **_):
        self.refresh()

    def on_filter(self, *_):
        self.refresh()

    def refresh(self):
        app = App.get_running_app()
        core = app.core
        records = core.records(FILTERS.get(self.filter))
        records.sort(key=lambda r: (r.state not in ATTENTION, -(r.updated_at or r.created_at).timestamp()
                                    if (r.updated_at or r.created_at) else 0))
        self.ids.list.data = [self.row(core, record) for record in records]
        self.count_text = tr("records.count", count=len(records))

    @staticmethod
    def row(core, record) -> dict:
        from ..app import format_time

        state = "receipt" if record.receipt and record.state == "uploaded" else record.state
        detail = []
        if record.state in ATTENTION and record.status_comment:
            detail.append(tr("records.comment", comment=record.status_comment))
        if record.state == "rejected" and record.errors:
            detail.append(tr("records.refused"))
        if record.state == "conflict":
            detail.append(tr("records.conflict", count=len(record.conflicts or [])))
        if record.photos_pending:
            detail.append(tr("records.photos_pending", count=record.photos_pending))
        return {
            "record_id": record.id,
            "title": f"{category_label(core, record.category)}  ·  {record.grid_code}  ·  "
                     f"{format_time(record.updated_at or record.created_at)}",
            "summary": record_summary(core, record),
            "detail": "  ".join(detail),
            "state_text": state_word(state),
            "state_rgba": list(state_color(state)),
            "attention": record.state in ATTENTION,
        }

    def open_record(self, record_id):
        app = App.get_running_app()
        record = app.core.record(record_id)
        if record.receipt:
            app.toast(tr("records.receipt_only"))
            return
        app.show("record_form", record_id=record_id, return_to="records")

    def row_for(self, record_id) -> dict | None:
        return next((row for row in self.ids.list.data if row["record_id"] == record_id), None)
