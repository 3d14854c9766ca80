"""Headless Chromium (Debian's `chromium` + `chromium-driver`) driven by selenium, for the web page tests.

    driver = chromium_driver(tmp_path)      # a fresh profile under tmp_path; quit() it when done
    screenshot(driver, "web-review-queue")  # -> artifacts/screenshots/web-review-queue.png

Share one driver per test module (a module-scoped fixture) to keep the suite fast. A machine without Chromium
fails these tests rather than skipping them: a browser suite that quietly skips is a suite that never ran
(`make test` installs Chromium).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
OPTIONS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--window-size=1366,900", "--lang=zh-CN")


def browser_available() -> bool:
    return Path(CHROMEDRIVER).exists() and Path(CHROMIUM).exists()


def chromium_driver(tmp_path: Path | str | None = None, *, width: int = 1366, height: int = 900):
    """A headless Chromium with a fresh --user-data-dir (inside `tmp_path` when given)."""
    if not browser_available():
        pytest.fail("Chromium and chromium-driver are not installed (`make test` installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=str(tmp_path) if tmp_path else None))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for option in OPTIONS:
        options.add_argument(option)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    original_quit = driver.quit

    def quit_and_clean():
        try:
            original_quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean
    return driver


def screenshot(driver, name: str, *, full_page: bool = True) -> Path:
    """Save the current page as artifacts/screenshots/<name>.png (the whole page height when `full_page`)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (name if name.endswith(".png") else f"{name}.png")
    if full_page:
        size = driver.get_window_size()
        height = driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
        driver.set_window_size(size["width"], min(max(height + 120, size["height"]), 4000))
        try:
            driver.save_screenshot(str(path))
        finally:
            driver.set_window_size(size["width"], size["height"])
    else:
        driver.save_screenshot(str(path))
    return path


def sign_in(driver, base_url: str, username: str, password: str) -> None:
    """Sign in through the real form, as a person would."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base_url}/login")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def sign_out(driver) -> None:
    driver.delete_all_cookies()
