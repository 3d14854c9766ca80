"""The grid administrator's day, on real screens against the real server:

enroll → home shows the grid → a mediation recorded with the network gone (validation first) → it waits →
the app restarts → the network comes back and the app syncs by itself → uploaded → a supervisor returns it →
sync → returned with the comment → opened, fixed, resent → uploaded. Screenshots of every main screen.
"""
from __future__ import annotations

import pytest
from shapely.geometry import shape

from kivy_driver import find
from factories import enrollment_code, make_user
from field_app.core.app import FieldCore
from field_app.ui.app import WanggeApp
from servers import RestartableServer
from server.extensions import db
from server.records.models import Record, RecordChange
from server.sync.changelog import lock_for_writing


# A grid no other test writes to: the server tests push hundreds of records into the first grid, and this tablet
# would pull them all, which makes the test slow and its timing depend on what ran before.
FLOW_GRID = "420503003012001"


def new_app(data_dir):
    return WanggeApp(core=FieldCore(data_dir), auto_sync_interval=0)


def box(form_screen, name):
    return form_screen.boxes[name]


def record_row(driver, record_id):
    """The list row widget showing a record (the RecycleView makes widgets only for visible rows)."""
    from field_app.ui.screens.records import RecordRow

    return find(driver.screen, lambda w: isinstance(w, RecordRow) and w.record_id == record_id)


def supervisor_returns(app, record_id, comment):
    """What the supervisor's review does: status returned, a comment, a new version, its history, the change log."""
    with app.app_context():
        record = db.session.get(Record, record_id)
        old = record.status
        record.version += 1
        record.status, record.status_comment = "returned", comment
        lock_for_writing()
        db.session.add(RecordChange(record_id=record.id, version=record.version, grid_code=record.grid_code,
                                    kind="status", comment=comment,
                                    changes={"status": {"old": old, "new": "returned"},
                                             "status_comment": {"old": None, "new": comment}}))
        db.session.commit()


def server_record(app, record_id):
    with app.app_context():
        record = db.session.get(Record, record_id)
        return {"status": record.status, "version": record.version, "content": dict(record.content)}


@pytest.fixture
def server(grid_app):
    with RestartableServer(grid_app) as running:
        yield running


def test_enroll_record_offline_restart_sync_return_fix(driver, grid_app, server, tmp_path):
    username = make_user(grid_app, scopes=[FLOW_GRID])
    code = enrollment_code(grid_app, username)
    data_dir = tmp_path / "tablet"

    # -- enroll -------------------------------------------------------------------------------------------
    app = driver.start(new_app(data_dir))
    enroll = driver.screen
    assert enroll.name == "enroll"
    driver.type(enroll.ids.server, server.url)
    driver.type(enroll.ids.code, code.lower().replace("-", " "))  # read aloud: case and dashes do not matter
    driver.press(enroll.ids.enroll_button)
    driver.wait_for(lambda: app.screen_manager.current == "home", message="enrollment")

    home = driver.screen
    assert FLOW_GRID in home.ids.grids.text
    assert home.ids.outbox.text == "全部已上传"
    assert [b.category for b in home.ids.new_buttons.children][::-1] == [
        "mediation", "labor_service", "integrity", "visit_round"]
    driver.screenshot("home")

    # -- the network goes away; a mediation is recorded -----------------------------------------------------
    server.stop()
    driver.press(home.new_record_button("mediation"))
    form = driver.screen
    assert form.name == "record_form" and form.title.startswith("矛盾纠纷调解")
    box(form, "dispute_type").editor.select("neighbour")
    party = box(form, "parties").editor.items[0]
    driver.type(party.boxes["name"].editor, "张三")
    party.boxes["role"].editor.select("applicant")
    box(form, "outcome").editor.select("in_progress")

    # validation before saving: the summary is required
    driver.press(form.ids.submit_button)
    assert box(form, "summary").error, "a missing summary must be named on its field"
    assert "1" in form.problems
    assert app.core.record(form.record.id).state == "draft", "what was typed is kept as a draft"
    record_id = form.record.id

    driver.type(box(form, "summary").editor, "楼上漏水，双方就维修费用争执")
    location = box(form, "location").editor
    driver.type(location.ids.lon, "111.0")
    driver.type(location.ids.lat, "31.5")
    assert "不在网格" in location.warning, "a point outside the grid is warned about"
    form.ids.scroll.scroll_y = 0
    driver.screenshot("form_location_warning")
    form.ids.scroll.scroll_y = 1
    inside = shape(app.core.grid_features()["features"][0]["geometry"]).representative_point()
    driver.type(location.ids.lon, f"{inside.x:.6f}")
    driver.type(location.ids.lat, f"{inside.y:.6f}")
    assert location.warning == ""
    driver.screenshot("form")
    driver.press(form.ids.submit_button)
    assert box(form, "summary").error == ""
    assert app.screen_manager.current == "records"
    assert app.core.record(record_id).state == "waiting"
    assert app.outbox_count == 1

    # a sync without the network fails in plain words and keeps the record
    sync = app.show("sync", start=True)
    driver.wait_for(lambda: not app.sync.running, message="offline sync")
    assert sync.failed and "无法连接服务器" in sync.error
    assert sync.ids.sync_button.text == "重试"
    driver.screenshot("sync_offline")
    app.show("home")
    driver.frames(2)
    assert driver.screen.ids.outbox.text == "1 条记录等待上传"
    assert any("同步失败" in w for w in app.warnings)

    # -- restart the app ----------------------------------------------------------------------------------
    driver.stop()
    app = driver.start(new_app(data_dir))
    assert app.screen_manager.current == "home" and app.outbox_count == 1
    app.show("records")
    driver.frames(2)
    assert record_row(driver, record_id).state_text == "等待上传"
    driver.screenshot("records_waiting")

    # -- the network comes back: the app syncs by itself -----------------------------------------------------
    server.start()
    app.auto_sync_tick()
    driver.wait_for(lambda: app.sync.report is not None and not app.sync.running, message="automatic sync")
    assert app.sync.report.ok, app.sync.report
    assert app.sync.automatic
    assert app.core.record(record_id).state == "uploaded"
    assert server_record(grid_app, record_id)["content"]["summary"] == "楼上漏水，双方就维修费用争执"
    driver.frames(2)
    assert record_row(driver, record_id).state_text == "已上传"
    assert app.outbox_count == 0

    # -- a supervisor returns it for correction --------------------------------------------------------------
    supervisor_returns(grid_app, record_id, "请补充当事人电话")
    sync = app.show("sync")
    driver.press(sync.ids.sync_button)
    driver.wait_for(lambda: not app.sync.running, message="sync after the return")
    driver.settle(app)
    assert sync.failed is False, sync.error
    app.show("records")
    driver.frames(2)
    row = record_row(driver, record_id)
    assert row.state_text == "退回补正" and "请补充当事人电话" in row.detail
    driver.screenshot("records")

    # -- open, fix, resend --------------------------------------------------------------------------------
    driver.press(row)
    form = driver.screen
    assert form.name == "record_form" and form.record.id == record_id
    assert form.comment == "请补充当事人电话"
    assert form.ids.submit_button.text == "修改后重新上传"
    driver.screenshot("form_returned")
    party = box(form, "parties").editor.items[0]
    driver.type(party.boxes["phone"].editor, "13800000000")
    driver.press(form.ids.submit_button)
    # Online, submitting starts the upload at once, so the record may already be on its way or uploaded here.
    after = app.core.record(record_id)
    assert after.state in ("waiting", "uploaded"), after
    driver.wait_for(lambda: not app.sync.running and app.core.record(record_id).state == "uploaded",
                    message="resend")
    sync = app.show("sync")
    driver.frames(2)
    assert not sync.failed, sync.error
    assert sync.ids.results.data and "已上传" in sync.ids.results.data[0]["text"]
    driver.screenshot("sync")
    assert app.core.record(record_id).state == "uploaded"
    on_server = server_record(grid_app, record_id)
    assert on_server["content"]["parties"][0]["phone"] == "13800000000"
    assert on_server["status"] == "reported", "a correction goes back into review"
    app.show("records")
    driver.frames(2)
    assert record_row(driver, record_id).state_text == "已上传"

    # -- the other main screens ---------------------------------------------------------------------------
    grid_map = app.show("grid_map")
    driver.frames(3)
    assert grid_map.ids.map.points and grid_map.ids.map.points[0]["id"] == record_id
    assert len(grid_map.ids.map.features["features"]) == 1
    driver.screenshot("map")
    settings = app.show("settings")
    driver.frames(2)
    driver.screenshot("settings")
    driver.press(settings.ids.lang_en)
    assert app.language == "en" and app.core.setting("language") == "en"
    app.show("home")
    driver.frames(2)
    assert driver.screen.ids.records_button.text == "My records"
    driver.screenshot("home_en")
    app.language = "zh"
