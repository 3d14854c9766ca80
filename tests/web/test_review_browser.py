"""The review pages in a real browser (headless Chromium), as supervisors and inspectors use them.

A supervisor signs in, opens the queue and a record, returns it with a comment, and the tablet's next pull carries
that comment; an inspector sees the integrity concern the supervisor never does. Screenshots are kept in
artifacts/screenshots/ (web-review-queue.png, web-record.png, web-devices.png, web-inspect.png).

Records here live in community 420502004002, which no other test module writes to.
"""
from datetime import datetime, timedelta, timezone

import pytest
import requests

from browser import screenshot, sign_in, sign_out
from factories import PASSWORD, make_tablet, make_user, pushed_record, set_record_times
from sync_support import mediation_fields

COMMUNITY = "420502004002"
GRID = "420502004002001"
SECOND_GRID = "420502004002002"


@pytest.fixture(scope="module")
def field(grid_app):
    """A tablet in GRID with a few records: on time, nearly due, overdue, another grid's, and an integrity concern."""
    username, uid, token = make_tablet(grid_app, GRID)
    _, _, second_token = make_tablet(grid_app, SECOND_GRID)
    now = datetime.now(timezone.utc)
    records = {
        "late": pushed_record(grid_app, token, GRID, fields=mediation_fields(
            "楼上住户夜间噪音扰民，双方多次争执", location={"lon": 111.2905, "lat": 30.7301, "accuracy_m": 8},
            agreement_text="晚十点后不再使用大功率音响")),
        "soon": pushed_record(grid_app, token, GRID, "labor_service", {
            "service_type": "wage_arrears_complaint", "person": [{"name": "周强", "phone": "13607170003"}],
            "outcome": "referred", "referred_to": "区人社局"}),
        "fresh": pushed_record(grid_app, second_token, SECOND_GRID, fields=mediation_fields(
            "业主与物业因停车费标准产生纠纷")),
        "concern": pushed_record(grid_app, token, GRID, "integrity"),
    }
    records["target"] = pushed_record(grid_app, token, GRID, fields=mediation_fields(
        "租客拖欠房租三个月", location={"lon": 111.291, "lat": 30.731}))
    set_record_times(grid_app, records["late"], received_at=now - timedelta(days=4), updated_at=now - timedelta(days=4))
    # Health as the tablets report it with a push: a backlog on one, a silent second tablet.
    from sync_support import push
    push(grid_app.test_client(), token, [], health={"outbox_depth": 5, "oldest_unsent_age_s": 2 * 86400,
                                                    "failed_attachments": 1, "app_version": "0.2.0"},
         device_time=(now + timedelta(minutes=9)).isoformat())
    set_record_times(grid_app, records["soon"], received_at=now - timedelta(hours=22),
                     updated_at=now - timedelta(hours=22))
    return {"username": username, "uid": uid, "token": token, "records": records}


def wait_for(driver, condition, timeout=10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def pull_to_the_end(site, token, cursor=None):
    while True:
        body = requests.get(f"{site}/api/v1/sync/pull", params={"cursor": cursor, "limit": 500} if cursor else
                            {"limit": 500}, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        yield from body["changes"]
        cursor = body["cursor"]
        if not body["has_more"]:
            pull_to_the_end.cursor = cursor
            return


def test_a_supervisor_returns_a_record_and_the_tablet_gets_the_comment(grid_app, driver, site, field):
    from selenium.webdriver.common.by import By

    records = field["records"]
    list(pull_to_the_end(site, field["token"]))  # the tablet is up to date
    cursor = pull_to_the_end.cursor
    supervisor = make_user(grid_app, "supervisor", scopes=[COMMUNITY], username=f"sup-{field['uid'][:6]}")

    sign_in(driver, site, supervisor, PASSWORD)
    wait_for(driver, lambda d: d.current_url.endswith("/review"))
    queue = driver.find_element(By.ID, "queue")
    ids = [row.get_attribute("data-id") for row in queue.find_elements(By.CSS_SELECTOR, "tbody tr[data-id]")]
    assert records["target"] in ids and records["late"] in ids and records["fresh"] in ids
    assert records["concern"] not in ids and records["concern"] not in driver.page_source
    assert "审核队列" in driver.page_source
    late_row = queue.find_element(By.CSS_SELECTOR, f'tr[data-id="{records["late"]}"]')
    assert "overdue" in late_row.get_attribute("class")
    screenshot(driver, "web-review-queue")

    driver.find_element(By.CSS_SELECTOR, f'tr[data-id="{records["target"]}"] td.summary a').click()
    wait_for(driver, lambda d: records["target"] in d.current_url)
    try:
        wait_for(driver, lambda d: d.execute_script(
            "return document.querySelectorAll('#record-map path.leaflet-interactive').length") >= 1)
    except Exception:
        print("DEBUG", driver.current_url, driver.get_log("browser"), driver.page_source[-3000:])
        raise
    assert "租客拖欠房租三个月" in driver.page_source and "张三" in driver.page_source
    screenshot(driver, "web-record")

    form = driver.find_element(By.ID, "action-return")
    form.find_element(By.NAME, "comment").send_keys("请补充被申请人的联系电话")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: "已退回补正" in d.page_source and "status-comment" in d.page_source)

    pulled = [change["record"] for change in pull_to_the_end(site, field["token"], cursor)]
    mine = [record for record in pulled if record["id"] == records["target"]]
    assert mine and mine[-1]["status"] == "returned"
    assert mine[-1]["status_comment"] == "请补充被申请人的联系电话"

    driver.get(f"{site}/review/{records['concern']}")
    assert "404" in driver.title and "为亲属违规办理低保" not in driver.page_source

    driver.get(f"{site}/devices")
    wait_for(driver, lambda d: d.find_elements(By.ID, "devices"))
    assert field["uid"] in driver.page_source
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.NAME, "username")).select_by_value(field["username"])
    driver.find_element(By.ID, "enroll-submit").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "enrollment-code"))
    assert driver.find_element(By.CSS_SELECTOR, "#enrollment svg")
    screenshot(driver, "web-devices")
    sign_out(driver)


def test_an_inspector_sees_the_integrity_concern(grid_app, driver, site, field):
    from selenium.webdriver.common.by import By

    records = field["records"]
    inspector = make_user(grid_app, "inspector", scopes=["420500"], username=f"insp-{field['uid'][:6]}")
    sign_in(driver, site, inspector, PASSWORD)
    wait_for(driver, lambda d: d.current_url.endswith("/inspect"))
    assert records["concern"] in driver.page_source and records["target"] not in driver.page_source
    driver.find_element(By.CSS_SELECTOR, f'tr[data-id="{records["concern"]}"] a').click()
    wait_for(driver, lambda d: records["concern"] in d.current_url)
    assert "为亲属违规办理低保" in driver.page_source and "某社区主任" in driver.page_source
    screenshot(driver, "web-inspect")
    driver.get(f"{site}/review")
    assert "403" in driver.title
    sign_out(driver)
