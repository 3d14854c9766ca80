"""The city map in a real browser (headless Chromium), as the command centre uses it.

A city viewer signs in through the form, opens /map and waits for the grid layer: exactly 1,110 grid shapes, a
legend; switching the metric redraws the legend; hover and click show a grid's figures and its community; the
page and every JSON document it loaded hold no personal data. Screenshots: artifacts/screenshots/web-map.png (the
map with its legend) and web-map-popup.png (a grid's popup, visit-round coverage).

Records here live in community 420503002001, which no other test module writes to.
"""
from __future__ import annotations

import json
import time

import pytest

from browser import screenshot, sign_in, sign_out
from factories import PASSWORD, make_tablet, make_user, pushed_record
from sync_support import mediation_fields

GRID, SECOND_GRID = "420503002001001", "420503002001002"
PARTIES = [{"name": "欧阳秀英", "role": "applicant", "phone": "13971230001"},
           {"name": "司马国栋", "role": "respondent", "phone": "13971230002"}]
PERSONAL = ("欧阳秀英", "司马国栋", "13971230001", "13971230002", "黄春梅", "13971230003", "某社区主任")


@pytest.fixture(scope="module")
def viewer(grid_app):
    """A city viewer, and records with personal data pushed from tablets in two grids."""
    _, _, token = make_tablet(grid_app, GRID)
    _, _, second = make_tablet(grid_app, SECOND_GRID)
    for _ in range(3):
        pushed_record(grid_app, token, GRID, fields=mediation_fields("楼道堆物引发邻里争执", parties=PARTIES))
    pushed_record(grid_app, second, SECOND_GRID, "labor_service", {
        "service_type": "job_referral", "person": [{"name": "黄春梅", "phone": "13971230003"}], "outcome": "referred"})
    pushed_record(grid_app, token, GRID, "integrity")
    return make_user(grid_app, "city_viewer", scopes=["420500"])


def wait_for(driver, condition, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def grid_paths(driver) -> int:
    return driver.execute_script("return document.querySelectorAll('.leaflet-overlay-pane svg path').length")


def legend_text(driver) -> str:
    return driver.execute_script("var l = document.getElementById('map-legend'); return l ? l.innerText : ''")


def state(driver) -> str | None:
    return driver.execute_script("return document.body.dataset.mapState || null")


def loaded_json(driver) -> list[str]:
    """Every JSON document the page fetched (by the browser's resource timing), fetched again in the page with its
    session: the same bytes the script got."""
    return driver.execute_async_script("""
        var done = arguments[arguments.length - 1];
        var urls = performance.getEntriesByType('resource').map(function (e) { return e.name; })
            .filter(function (u) { return u.indexOf('/stats/') >= 0 || u.indexOf('/api/v1/') >= 0; });
        Promise.all(urls.map(function (u) {
            return fetch(u, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
                .then(function (r) { return r.text(); }).then(function (t) { return u + '\\n' + t; });
        })).then(done, function (e) { done(['ERROR ' + e]); });
    """)


def test_a_city_viewer_sees_every_grid_coloured_with_a_legend_and_no_personal_data(driver, site, viewer):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.set_script_timeout(30)
    sign_in(driver, site, viewer, PASSWORD)
    wait_for(driver, lambda d: d.current_url.endswith("/map"))  # a city viewer lands on the map
    wait_for(driver, lambda d: state(d) == "ready")
    assert grid_paths(driver) == 1110
    coloured = driver.execute_script("""
        return Array.from(document.querySelectorAll('.leaflet-overlay-pane svg path'))
            .map(function (p) { return p.getAttribute('fill'); });""")
    assert len(coloured) == 1110 and len(set(coloured)) >= 2 and "#d5d9de" not in coloured  # all in scope
    legend = legend_text(driver)
    assert "记录数" in legend and "无数据" in legend, legend
    assert driver.find_element(By.CSS_SELECTOR, "#map-legend .row i").is_displayed()
    screenshot(driver, "web-map", full_page=False)

    # Hover: the grid's name, code and figure.
    target = driver.find_element(By.CSS_SELECTOR, f'path[data-code="{GRID}"]')
    ActionChains(driver).move_to_element(target).perform()
    tooltip = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip"))[0]
    wait_for(driver, lambda d: GRID in tooltip.text)
    assert "记录数" in tooltip.text and "网格" in tooltip.text, tooltip.text

    # Another metric: the legend follows.
    Select(driver.find_element(By.ID, "map-metric")).select_by_value("visit_coverage")
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.mapMetric") == "visit_coverage")
    wait_for(driver, lambda d: "走访覆盖率" in legend_text(d))
    assert legend_text(driver) != legend and "%" in legend_text(driver)
    assert driver.find_element(By.ID, "map-category").get_attribute("disabled")  # coverage has no category

    # Click: the grid's community and its figures.
    ActionChains(driver).move_to_element(target).click().perform()
    popup = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content"))[0]
    wait_for(driver, lambda d: "…" not in popup.text)  # the other metrics arrived
    assert "420503002001" in popup.text and "社区" in popup.text and "在办案件" in popup.text, popup.text
    time.sleep(0.5)  # Leaflet fades popups in
    screenshot(driver, "web-map-popup", full_page=False)

    # Integrity concerns: only per street for a city viewer.
    driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-close-button").click()
    Select(driver.find_element(By.ID, "map-metric")).select_by_value("records")
    Select(driver.find_element(By.ID, "map-category")).select_by_value("integrity")
    wait_for(driver, lambda d: "按街道汇总" in legend_text(d))
    assert state(driver) == "ready" and grid_paths(driver) == 1110

    # Nothing personal anywhere: the page as it stands (tooltips and popups included) and every JSON it loaded.
    documents = [driver.page_source, driver.execute_script("return document.documentElement.outerHTML")]
    documents += loaded_json(driver)
    fetched = [doc.split("\n", 1)[0] for doc in documents[2:]]
    assert any("/map/stats/grids.json" in url for url in fetched), fetched
    assert any("/map/stats/streets.json" in url for url in fetched), fetched
    assert any(url.endswith("/api/v1/grids") for url in fetched), fetched
    for document in documents:
        assert not document.startswith("ERROR"), document
        for secret in PERSONAL:
            assert secret not in document, (secret, document[:200])
    stats = [json.loads(doc.split("\n", 1)[1]) for doc in documents[2:] if "/map/stats/" in doc.split("\n", 1)[0]]
    assert stats and all(set(body) >= {"metric", "from", "to", "max"} for body in stats)
    sign_out(driver)


@pytest.mark.parametrize("role,scope", [("grid_admin", GRID)])
def test_a_grid_administrator_gets_no_map(grid_app, driver, site, role, scope):
    from selenium.webdriver.common.by import By

    sign_in(driver, site, make_user(grid_app, role, scopes=[scope]), PASSWORD)
    wait_for(driver, lambda d: "/login" not in d.current_url)  # signed in: landed on the start page
    driver.get(f"{site}/map")
    assert "您没有权限查看此页面" in driver.find_element(By.TAG_NAME, "body").text
    assert grid_paths(driver) == 0
    sign_out(driver)
