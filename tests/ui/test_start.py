"""The app starts on a fresh data dir at the enrollment screen, in Chinese, with a CJK font."""
from __future__ import annotations

from field_app.core.app import FieldCore
from field_app.ui import fonts
from field_app.ui.app import WanggeApp


def test_fresh_app_opens_enrollment_in_chinese(driver, tmp_path):
    app = driver.start(WanggeApp(core=FieldCore(tmp_path / "data"), auto_sync_interval=0))
    assert app.screen_manager.current == "enroll"
    screen = driver.screen
    assert screen.ids.enroll_button.text == "登记并下载"
    assert fonts.registered_font() is not None, "no CJK font: Chinese would render as boxes"
    driver.screenshot("enroll")

    driver.press(screen.ids.enroll_button)  # nothing typed: told what is missing, nothing sent
    assert screen.error == "请填写服务器地址和登记码。" or "服务器" in screen.error
