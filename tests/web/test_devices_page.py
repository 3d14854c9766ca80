"""Tablet sync health (/devices): every tablet in scope with its health, stale flags, enrollment codes, revocation.

Tablets here belong to grid administrators of community 420502003012, which no other test module uses.
"""
import re
from datetime import timedelta

from factories import auth, csrf_from, make_tablet, make_user, signed_in
from server.devices.models import Device
from server.extensions import db
from server.timeutil import utcnow
from sqlalchemy import select
from sync_support import create, push

COMMUNITY = "420502003012"
GRID = "420502003012001"
ELSEWHERE = "420502003011001"


def device_row(page: str, uid: str) -> str:
    start = page.rindex("<tr", 0, page.index(f'data-uid="{uid}"'))
    return page[start:page.index("</tr>", start)]


def test_every_tablet_in_scope_with_its_health(grid_app):
    username, uid, token = make_tablet(grid_app, GRID)
    _, outside_uid, _ = make_tablet(grid_app, ELSEWHERE)
    client = grid_app.test_client()
    response = push(client, token, [create(grid_code=GRID)], health={
        "outbox_depth": 7, "oldest_unsent_age_s": 3 * 3600, "failed_attachments": 2, "app_version": "0.2.0"},
        device_time=(utcnow() + timedelta(minutes=10)).isoformat())
    assert response.status_code == 200, response.get_json()

    supervisor, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    page = supervisor.get("/devices").get_data(as_text=True)
    assert uid in page and outside_uid not in page
    row = device_row(page, uid)
    assert username in row and GRID in row and "0.2.0" in row
    assert ">7<" in row and "3小时0分" in row and ">2<" in row
    assert re.search(r"\+\d+ s", row) and "badge due-soon" in row  # ten minutes of clock skew is flagged
    assert "正常" in row and "stale" not in row.split(">")[0]  # the row's own class


def test_stale_tablets_are_flagged(grid_app):
    _, quiet_uid, _ = make_tablet(grid_app, GRID)
    _, backlog_uid, _ = make_tablet(grid_app, GRID)
    with grid_app.app_context():
        quiet = db.session.scalar(select(Device).where(Device.uid == quiet_uid))
        quiet.enrolled_at = quiet.last_push_at = utcnow() - timedelta(hours=30)
        backlog = db.session.scalar(select(Device).where(Device.uid == backlog_uid))
        backlog.last_push_at, backlog.oldest_unsent_age_s, backlog.outbox_depth = utcnow(), 2 * 86400, 3
        db.session.commit()
    supervisor, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    page = supervisor.get("/devices").get_data(as_text=True)
    for uid in (quiet_uid, backlog_uid):
        row = device_row(page, uid)
        assert 'class="stale' in row and "需关注" in row, uid
    assert re.search(r'id="stale-count">\d+ 台需关注', page)


def test_open_conflicts_are_counted_per_tablet(grid_app):
    from factories import make_device, push_record, pushed_record

    username, uid, token = make_tablet(grid_app, GRID)
    _, second = make_device(grid_app, username)
    record_id = pushed_record(grid_app, token, GRID)
    client = grid_app.test_client()
    push_record(client, token, "", "", {"summary": "一"}, record_id=record_id, op="update", base_version=1)
    push_record(client, second, "", "", {"summary": "二"}, record_id=record_id, op="update", base_version=1,
                expect="conflict")
    supervisor, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    page = supervisor.get("/devices").get_data(as_text=True)
    with grid_app.app_context():
        second_uid = db.session.scalar(select(Device.uid).where(Device.user.has(username=username),
                                                                Device.uid != uid))
    assert 'badge overdue">1<' in device_row(page, second_uid)


def test_an_enrollment_code_is_shown_as_text_and_qr_and_enrolls_a_tablet(grid_app):
    username = make_user(grid_app, "grid_admin", scopes=[GRID])
    supervisor, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    page = supervisor.get("/devices")
    assert f'value="{username}"' in page.get_data(as_text=True)
    response = supervisor.post("/devices/enrollment", data={"csrf_token": csrf_from(page.data),
                                                             "username": username})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    code = re.search(r'id="enrollment-code">([A-Z0-9-]+)<', text).group(1)
    assert "<svg" in text and "wangge://enroll?server=http://localhost&amp;code=" + code in text
    enrolled = grid_app.test_client().post("/api/v1/devices/enroll", json={"code": code, "label": "新平板"})
    assert enrolled.status_code == 201
    assert enrolled.get_json()["user"]["username"] == username


def test_codes_only_for_grid_administrators_in_scope(grid_app):
    outside = make_user(grid_app, "grid_admin", scopes=[ELSEWHERE])
    supervisor, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    page = supervisor.get("/devices")
    assert f'value="{outside}"' not in page.get_data(as_text=True)
    response = supervisor.post("/devices/enrollment", data={"csrf_token": csrf_from(page.data),
                                                             "username": outside})
    assert response.status_code == 403 and 'id="enrollment-code"' not in response.get_data(as_text=True)
    response = supervisor.post("/devices/enrollment", data={"csrf_token": csrf_from(page.data),
                                                             "username": "nobody-at-all"})
    assert response.status_code == 422


def test_revoking_a_tablet_stops_its_sync(grid_app):
    _, uid, token = make_tablet(grid_app, GRID)
    supervisor, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    page = supervisor.get("/devices")
    response = supervisor.post(f"/devices/{uid}/revoke", data={"csrf_token": csrf_from(page.data)})
    assert response.status_code == 303
    assert "已停用" in device_row(supervisor.get("/devices").get_data(as_text=True), uid)
    assert grid_app.test_client().get("/api/v1/sync/pull", headers=auth(token)).status_code == 401


def test_tablets_outside_the_scope_cannot_be_revoked(grid_app):
    _, uid, token = make_tablet(grid_app, ELSEWHERE)
    supervisor, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    page = supervisor.get("/devices")
    response = supervisor.post(f"/devices/{uid}/revoke", data={"csrf_token": csrf_from(page.data)})
    assert response.status_code == 404
    assert grid_app.test_client().get("/api/v1/sync/pull", headers=auth(token)).status_code == 200


def test_administrators_see_every_tablet(grid_app):
    _, uid, _ = make_tablet(grid_app, ELSEWHERE)
    admin, _ = signed_in(grid_app, "admin", ["420500"])
    assert uid in admin.get("/devices").get_data(as_text=True)
