"""Fixtures for the browser tests: one headless Chromium and one live server per test module."""
import pytest

from browser import chromium_driver
from live_server import ThreadedServer


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    browser = chromium_driver(tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def site(grid_app):
    with ThreadedServer(grid_app) as server:
        yield server.url
