"""Screens on an enrolled tablet, without a server: every category's form, nothing typed lost, language, fonts."""
from __future__ import annotations

import pytest

from factories import enrollment_code, make_user
from field_app.core.app import FieldCore
from field_app.ui import fonts, i18n
from field_app.ui.app import WanggeApp
from servers import RestartableServer


@pytest.fixture(scope="module")
def enrolled_dir(grid_app, tmp_path_factory):
    """A tablet data dir enrolled against the real server (which is then gone: these tests run offline)."""
    data_dir = tmp_path_factory.mktemp("enrolled")
    with RestartableServer(grid_app) as server:
        core = FieldCore(data_dir)
        core.enroll(server.url, enrollment_code(grid_app, make_user(grid_app, scopes=["420503003012002"])))
        core.close()
    return data_dir


def start(driver, data_dir):
    return driver.start(WanggeApp(core=FieldCore(data_dir), auto_sync_interval=0))


def test_every_served_category_builds_its_form(driver, enrolled_dir):
    app = start(driver, enrolled_dir)
    before = [r.id for r in app.core.records()]   # records of the grid pulled at enrollment
    for form in app.core.categories():
        screen = app.show("record_form", category=form.key)
        driver.frames(2)
        assert list(screen.boxes) == [spec.name for spec in form.fields]
        assert screen.confidential == form.confidential
        app.show("home")
    assert [r.id for r in app.core.records()] == before, "opening and leaving an empty form saves nothing"


def test_visit_round_with_households_and_topics(driver, enrolled_dir):
    app = start(driver, enrolled_dir)
    form = app.show("record_form", category="visit_round")
    driver.frames(2)
    form.boxes["started_at"].editor.input.text = "2026-11-27 09:00"
    form.boxes["ended_at"].editor.input.text = "2026-11-27 11:30"
    households = form.boxes["households"].editor
    driver.type(households.items[0].boxes["household"].editor, "3栋2单元501")
    households.items[0].boxes["outcome"].editor.select(households.items[0].boxes["outcome"].spec.choices[0][0])
    second = households.add_item()
    driver.type(second.boxes["household"].editor, "3栋2单元502")
    second.boxes["outcome"].editor.select(second.boxes["outcome"].spec.choices[1][0])
    third = households.add_item()
    households.remove_item(third)
    form.boxes["topics"].editor.boxes["safety"].active = True
    form.boxes["publicity"].editor.boxes["leaflets"].active = True
    driver.type(form.boxes["leaflets_delivered"].editor, "12")
    values = form.collect()
    assert [h["household"] for h in values["households"]] == ["3栋2单元501", "3栋2单元502"]
    assert values["topics"] == ["safety"] and values["leaflets_delivered"] == 12
    assert values["started_at"].startswith("2026-11-27T09:00:00")
    driver.screenshot("form_visit_round")
    assert form.submit(), form.problems
    record = [r for r in app.core.records() if r.category == "visit_round"][0]
    assert record.state == "waiting" and len(record.fields["households"]) == 2


def test_integrity_form_says_it_is_confidential(driver, enrolled_dir):
    app = start(driver, enrolled_dir)
    form = app.show("record_form", category="integrity")
    driver.frames(2)
    assert form.confidential and "纪检监察" in form.ids.confidential_box.children[0].text
    assert form.boxes["subject"].label_text.endswith("（保密） *")
    driver.screenshot("form_integrity")
    app.show("home")


def test_nothing_typed_is_lost_when_the_app_stops(driver, enrolled_dir):
    app = start(driver, enrolled_dir)
    form = app.show("record_form", category="labor_service")
    driver.frames(2)
    driver.type(form.boxes["person"].editor.items[0].boxes["name"].editor, "李四")
    record_id = form.record.id
    driver.stop()  # the tablet is switched off mid-form: on_stop commits what was typed

    app = start(driver, enrolled_dir)
    record = app.core.record(record_id)
    assert record.state == "draft" and record.fields["person"] == [{"name": "李四"}]
    records = app.show("records")
    driver.frames(2)
    row = records.row_for(record_id)
    assert row["state_text"] == "草稿" and "李四" in row["summary"]
    form = app.show("record_form", record_id=record_id)
    assert form.boxes["person"].editor.items[0].boxes["name"].editor.text == "李四"


def test_home_warns_about_clock_skew_and_switches_language(driver, enrolled_dir):
    app = start(driver, enrolled_dir)
    app.core.repo.put("clock_offset_s", -900)   # the tablet's clock runs 15 minutes fast
    app.refresh_state()
    driver.frames(2)
    assert any("快约 15 分钟" in w for w in app.warnings)
    settings = app.show("settings")
    driver.press(settings.ids.lang_en)
    home = app.show("home")
    driver.frames(2)
    assert any("15 min faster" in w for w in app.warnings)
    assert home.ids.sync_button.text.startswith("Sync")
    driver.screenshot("home_warning_en")
    app.language = "zh"
    app.core.repo.put("clock_offset_s", 0)


def test_font_lookup_prefers_the_setting_then_known_paths(tmp_path):
    font = tmp_path / "my.ttf"
    font.write_bytes(b"not really a font")
    assert fonts.find_cjk_font(str(font)) == str(font)
    assert fonts.find_cjk_font(str(tmp_path / "missing.ttf"), candidates=[str(font)]) == str(font)
    assert fonts.find_cjk_font(None, candidates=[]) is None
    assert "/system/fonts/NotoSansCJK-Regular.ttc" in fonts.CANDIDATES


def test_every_word_exists_in_both_languages():
    assert set(i18n.LANGUAGES["zh"]) == set(i18n.LANGUAGES["en"])
    assert i18n.tr("home.sync", "en") == "Sync" and i18n.tr("home.sync", "zh") == "同步"
    assert i18n.pick({"zh": "调解", "en": "Mediation"}, "en") == "Mediation"
    assert i18n.pick({"zh": "调解"}, "en") == "调解"


def test_a_wrong_code_is_explained_and_nothing_is_enrolled(driver, grid_app, tmp_path):
    with RestartableServer(grid_app) as server:
        app = driver.start(WanggeApp(core=FieldCore(tmp_path / "fresh"), auto_sync_interval=0))
        enroll = driver.screen
        driver.type(enroll.ids.qr, f"wangge://enroll?server={server.url}&code=AAAA-BBBB-CCCC")
        driver.press(enroll.ids.read_qr)
        assert enroll.ids.server.text == server.url and enroll.ids.code.text == "AAAA-BBBB-CCCC"
        driver.press(enroll.ids.enroll_button)
        driver.wait_for(lambda: not enroll.busy, message="the enrollment answer")
        assert enroll.error and "enrollment code" in enroll.error.lower() or "登记" in enroll.error
        assert app.screen_manager.current == "enroll" and not app.core.is_enrolled()
        driver.screenshot("enroll_error")
