"""The review queue, the record page, the workflow actions and the inspectors' queue (Flask test client, both DBs).

Records here live in community 420502003010 (grids ...001-...003), which no other test module writes to.
"""
import re

import pytest
from sqlalchemy import func, select

from factories import auth, csrf_from, make_tablet, make_user, pushed_record, signed_in, web_login
from server.extensions import db
from server.records.models import AuditEvent, Record, RecordChange
from sync_support import mediation_fields

COMMUNITY = "420502003010"
GRID = "420502003010001"
OTHER_GRID = "420502003010002"
ELSEWHERE = "420502003009001"  # another community


@pytest.fixture
def tablet(grid_app):
    return make_tablet(grid_app, GRID)


@pytest.fixture
def supervisor(grid_app):
    return signed_in(grid_app, "supervisor", [COMMUNITY])[0]


def record_of(app, record_id):
    with app.app_context():
        record = db.session.get(Record, record_id)
        db.session.expunge(record)
        return record


def act(client, record_id, action, comment="", base="review", **extra):
    page = client.get(f"/{base}/{record_id}")
    assert page.status_code == 200, page.status_code
    data = {"csrf_token": csrf_from(page.data), "action": action, "comment": comment, **extra}
    return client.post(f"/{base}/{record_id}/action", data=data)


def log_entries(app, record_id):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(RecordChange)  # the change log is the history
                                 .where(RecordChange.record_id == record_id))


# --- role checks ----------------------------------------------------------------------------------------------------

PAGES = [  # (method, path, roles allowed)
    ("GET", "/review", {"supervisor", "admin"}),
    ("GET", "/review/{id}", {"supervisor", "admin"}),
    ("POST", "/review/{id}/action", {"supervisor", "admin"}),
    ("POST", "/review/bulk-accept", {"supervisor", "admin"}),
    ("GET", "/review/{id}/photo/" + "a" * 64, {"supervisor", "admin"}),
    ("GET", "/review/export.csv", {"supervisor", "admin", "inspector", "city_viewer"}),
    ("GET", "/review/export.geojson", {"supervisor", "admin", "inspector", "city_viewer"}),
    ("GET", "/inspect", {"inspector"}),
    ("GET", "/inspect/{id}", {"inspector"}),
    ("POST", "/inspect/{id}/action", {"inspector"}),
    ("GET", "/inspect/{id}/photo/" + "a" * 64, {"inspector"}),
    ("GET", "/devices", {"supervisor", "admin"}),
    ("POST", "/devices/enrollment", {"supervisor", "admin"}),
    ("POST", "/devices/{uid}/revoke", {"supervisor", "admin"}),
    ("GET", "/deadlines", {"supervisor", "inspector", "admin"}),
    ("POST", "/deadlines", {"admin"}),
]
ROLES = ("grid_admin", "supervisor", "inspector", "city_viewer", "admin")
SCOPE_OF_ROLE = {"grid_admin": GRID, "supervisor": COMMUNITY, "inspector": "420500", "city_viewer": "420500",
                 "admin": "420500"}


def test_every_page_needs_sign_in(grid_app, tablet):
    record_id = pushed_record(grid_app, tablet[2], GRID)
    client = grid_app.test_client()
    token = csrf_from(client.get("/login").data)
    for method, path, _ in PAGES:
        url = path.format(id=record_id, uid=tablet[1])
        response = client.get(url) if method == "GET" else client.post(url, data={"csrf_token": token})
        assert response.status_code == 302, (url, response.status_code)
        assert response.headers["Location"].startswith("/login"), url


@pytest.mark.parametrize("role", ROLES)
def test_each_page_refuses_the_wrong_roles(grid_app, tablet, role):
    record_id = pushed_record(grid_app, tablet[2], GRID)
    client, _ = signed_in(grid_app, role, [SCOPE_OF_ROLE[role]])
    token = csrf_from(client.get("/login").data)
    for method, path, allowed in PAGES:
        url = path.format(id=record_id, uid=tablet[1])
        response = client.get(url) if method == "GET" else client.post(url, data={"csrf_token": token})
        response.get_data()  # read streamed exports to the end
        response.close()
        if role in allowed:
            assert response.status_code != 403, (role, url)
        else:
            assert response.status_code == 403, (role, url, response.status_code)


def test_a_post_without_csrf_token_is_refused(grid_app, tablet, supervisor):
    record_id = pushed_record(grid_app, tablet[2], GRID)
    response = supervisor.post(f"/review/{record_id}/action", data={"action": "accept"})
    assert response.status_code == 400
    assert record_of(grid_app, record_id).status == "reported"


def test_records_outside_the_scope_are_not_found(grid_app):
    _, _, token = make_tablet(grid_app, ELSEWHERE)
    record_id = pushed_record(grid_app, token, ELSEWHERE)
    client, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    assert record_id not in client.get("/review").get_data(as_text=True)
    assert client.get(f"/review/{record_id}").status_code == 404
    page = client.get("/review").data
    response = client.post(f"/review/{record_id}/action", data={"csrf_token": csrf_from(page), "action": "accept"})
    assert response.status_code == 404
    assert record_of(grid_app, record_id).status == "reported"
    assert client.get("/review/not-a-uuid").status_code in (400, 404)


# --- queue ----------------------------------------------------------------------------------------------------------

def test_queue_lists_new_records_newest_first_with_filters(grid_app, tablet, supervisor):
    first = pushed_record(grid_app, tablet[2], GRID)
    second = pushed_record(grid_app, tablet[2], GRID, "labor_service", {
        "service_type": "job_referral", "person": [{"name": "赵六"}], "outcome": "completed"})
    _, _, other_token = make_tablet(grid_app, OTHER_GRID)
    third = pushed_record(grid_app, other_token, OTHER_GRID)

    page = supervisor.get("/review").get_data(as_text=True)
    order = re.findall(r'data-id="([^"]+)"', page)
    assert order.index(third) < order.index(second) < order.index(first)
    assert "矛盾纠纷调解" in page and "已上报" in page

    by_grid = re.findall(r'data-id="([^"]+)"', supervisor.get(f"/review?grid={OTHER_GRID}").get_data(as_text=True))
    assert third in by_grid and first not in by_grid
    by_category = supervisor.get("/review?category=labor_service").get_data(as_text=True)
    assert second in by_category and first not in by_category
    by_admin = supervisor.get(f"/review?admin={tablet[0]}").get_data(as_text=True)
    assert first in by_admin and second in by_admin and third not in by_admin
    assert first not in supervisor.get("/review?status=accepted").get_data(as_text=True)
    oldest = re.findall(r'data-id="([^"]+)"', supervisor.get(f"/review?sort=oldest&admin={tablet[0]}").get_data(
        as_text=True))
    assert oldest == [first, second]


def test_queue_pages_with_an_older_link(grid_app):
    grid = "420502003010003"
    _, _, token = make_tablet(grid_app, grid)
    made = [pushed_record(grid_app, token, grid) for _ in range(3)]
    client, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    seen, url, pages = [], f"/review?grid={grid}&limit=2", 0
    while url:
        pages += 1
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r'data-id="([^"]+)"', page)
        match = re.search(r'id="older" href="([^"]+)"', page) or re.search(r'href="([^"]+)" id="older"', page)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert set(made) <= set(seen) and len(seen) == len(set(seen)) and pages >= 2


def test_queue_keyset_paging_walks_every_record_once(grid_app):
    from server.accounts.auth import Principal
    from server.accounts.models import User
    from server.review.queue import queue_page

    grid = "420502003010003"
    _, _, token = make_tablet(grid_app, grid)
    made = {pushed_record(grid_app, token, grid) for _ in range(5)}
    username = make_user(grid_app, "supervisor", scopes=[COMMUNITY])
    with grid_app.test_request_context():
        principal = Principal(db.session.scalar(select(User).where(User.username == username)))
        seen, cursor = [], None
        while True:
            page = queue_page(principal, {"grid": grid, "limit": 2, "cursor": cursor})
            assert len(page.rows) <= 2
            seen += [row.record.id for row in page.rows]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert made <= set(seen) and len(seen) == len(set(seen))


# --- transitions ----------------------------------------------------------------------------------------------------

def test_the_whole_workflow_with_history_and_change_log(grid_app, tablet, supervisor):
    record_id = pushed_record(grid_app, tablet[2], GRID)
    logged = log_entries(grid_app, record_id)
    assert act(supervisor, record_id, "accept", "情况属实，立案").status_code == 303
    assert act(supervisor, record_id, "dispatch", "请区司法局协助", target_kind="department",
               department="区司法局").status_code == 303
    assert act(supervisor, record_id, "dispatch", "转街道", target_kind="up").status_code == 303
    for action in ("handle", "verify", "close"):
        assert act(supervisor, record_id, action).status_code == 303, action
    record = record_of(grid_app, record_id)
    assert record.status == "closed" and record.version == 7
    assert log_entries(grid_app, record_id) == logged + 6
    with grid_app.app_context():
        changes = db.session.scalars(select(RecordChange).where(RecordChange.record_id == record_id,
                                                                RecordChange.kind == "status")
                                     .order_by(RecordChange.version)).all()
        assert [c.changes["status"]["new"] for c in changes] == [
            "accepted", "dispatched", "dispatched", "handled", "verified", "closed"]
        assert changes[0].comment == "情况属实，立案" and changes[0].actor_id is not None
        assert changes[1].changes["dispatched_to"] == {"old": None, "new": "区司法局"}
        assert changes[2].changes["dispatched_to"] == {"old": "区司法局", "new": "@up"}
    page = supervisor.get(f"/review/{record_id}").get_data(as_text=True)
    assert "已结案" in page and "情况属实，立案" in page and "区司法局" in page and "上报上一级" in page
    assert "此状态下没有可办理的操作" in page


def test_an_invalid_transition_is_refused_clearly_and_changes_nothing(grid_app, tablet, supervisor):
    record_id = pushed_record(grid_app, tablet[2], GRID)
    logged = log_entries(grid_app, record_id)
    response = act(supervisor, record_id, "close", "直接结案")
    assert response.status_code == 409
    assert "当前状态不允许此操作" in response.get_data(as_text=True)
    response = act(supervisor, record_id, "fly_away", "?")
    assert response.status_code == 422
    record = record_of(grid_app, record_id)
    assert (record.status, record.version) == ("reported", 1)
    assert log_entries(grid_app, record_id) == logged


@pytest.mark.parametrize("action", ["return", "not_accept", "dispatch"])
def test_a_comment_is_required_to_return_not_accept_and_dispatch(grid_app, tablet, supervisor, action):
    record_id = pushed_record(grid_app, tablet[2], GRID)
    if action == "dispatch":
        act(supervisor, record_id, "accept")
    before = record_of(grid_app, record_id)
    response = act(supervisor, record_id, action, "   ", target_kind="department", department="区人社局")
    assert response.status_code == 422
    assert "必须填写意见" in response.get_data(as_text=True)
    after = record_of(grid_app, record_id)
    assert (after.status, after.version) == (before.status, before.version)


def test_dispatch_needs_a_target(grid_app, tablet, supervisor):
    record_id = pushed_record(grid_app, tablet[2], GRID)
    act(supervisor, record_id, "accept")
    response = act(supervisor, record_id, "dispatch", "请处理", target_kind="department", department="")
    assert response.status_code == 422 and "派遣的部门" in response.get_data(as_text=True)
    assert record_of(grid_app, record_id).status == "accepted"


def test_a_record_changed_since_the_page_was_loaded_is_not_moved(grid_app, tablet, supervisor):
    record_id = pushed_record(grid_app, tablet[2], GRID)
    page = supervisor.get(f"/review/{record_id}")
    from factories import push_record
    push_record(grid_app.test_client(), tablet[2], "", "", {"summary": "补充"}, record_id=record_id, op="update",
                base_version=1)
    response = supervisor.post(f"/review/{record_id}/action", data={
        "csrf_token": csrf_from(page.data), "action": "accept", "comment": "", "version": "1"})
    assert response.status_code == 409 and "已有更新" in response.get_data(as_text=True)
    assert record_of(grid_app, record_id).status == "reported"


def test_bulk_accept_in_one_go_skipping_what_cannot_be_accepted(grid_app, tablet, supervisor):
    ids = [pushed_record(grid_app, tablet[2], GRID) for _ in range(3)]
    act(supervisor, ids[2], "not_accept", "重复上报")
    _, _, other_token = make_tablet(grid_app, ELSEWHERE)
    outside = pushed_record(grid_app, other_token, ELSEWHERE)
    page = supervisor.get("/review")
    response = supervisor.post("/review/bulk-accept", data={
        "csrf_token": csrf_from(page.data), "record_id": [*ids, outside], "comment": "批量立案"})
    assert response.status_code == 303
    assert [record_of(grid_app, rid).status for rid in ids] == ["accepted", "accepted", "not_accepted"]
    assert record_of(grid_app, outside).status == "reported"
    follow = supervisor.get("/review").get_data(as_text=True)
    assert "已立案 2 条" in follow and "2 条未能立案" in follow
    with grid_app.app_context():
        change = db.session.scalar(select(RecordChange).where(RecordChange.record_id == ids[0],
                                                              RecordChange.kind == "status"))
        assert change.comment == "批量立案"


def test_a_returned_record_reaches_the_tablet_with_its_comment_and_comes_back(grid_app, tablet, supervisor):
    username, _, token = tablet
    client = grid_app.test_client()
    record_id = pushed_record(grid_app, token, GRID)
    cursor = client.get("/api/v1/sync/pull?limit=500", headers=auth(token)).get_json()
    while cursor["has_more"]:
        cursor = client.get(f"/api/v1/sync/pull?limit=500&cursor={cursor['cursor']}", headers=auth(token)).get_json()

    assert act(supervisor, record_id, "return", "请补充当事人电话").status_code == 303
    pulled = client.get(f"/api/v1/sync/pull?cursor={cursor['cursor']}", headers=auth(token)).get_json()
    mine = [change["record"] for change in pulled["changes"] if change["record"]["id"] == record_id]
    assert mine and mine[-1]["status"] == "returned" and mine[-1]["status_comment"] == "请补充当事人电话"
    assert mine[-1]["version"] == 2

    # The correction from the tablet puts it back in the queue.
    from factories import push_record
    fields = mediation_fields()
    fields["parties"][1]["phone"] = "13900000000"
    push_record(client, token, "", "", {"parties": fields["parties"]}, record_id=record_id, op="update",
                base_version=2)
    assert record_of(grid_app, record_id).status == "reported"
    page = supervisor.get(f"/review/{record_id}").get_data(as_text=True)
    assert "补正后重新上报" in page and "13900000000" in page


# --- integrity concerns ---------------------------------------------------------------------------------------------

def test_integrity_concerns_never_reach_the_review_queue(grid_app, tablet, supervisor):
    record_id = pushed_record(grid_app, tablet[2], GRID, "integrity")
    assert record_id not in supervisor.get("/review").get_data(as_text=True)
    assert record_id not in supervisor.get("/review?category=integrity").get_data(as_text=True)
    assert supervisor.get(f"/review/{record_id}").status_code == 404
    page = supervisor.get("/review").data
    response = supervisor.post(f"/review/{record_id}/action", data={"csrf_token": csrf_from(page),
                                                                    "action": "accept"})
    assert response.status_code == 404
    admin, _ = signed_in(grid_app, "admin", ["420500"])
    assert admin.get(f"/review/{record_id}").status_code == 404
    assert "为亲属违规办理低保" not in admin.get("/review/export.csv").get_data(as_text=True)
    assert record_of(grid_app, record_id).status == "reported"


def test_inspectors_see_integrity_concerns_with_an_audit_row_and_move_them(grid_app, tablet):
    record_id = pushed_record(grid_app, tablet[2], GRID, "integrity")
    normal_id = pushed_record(grid_app, tablet[2], GRID)
    inspector, username = signed_in(grid_app, "inspector", ["420500"])
    queue = inspector.get("/inspect").get_data(as_text=True)
    assert record_id in queue and normal_id not in queue
    assert "为亲属违规办理低保" not in queue  # the list shows routing data only: no read to audit
    assert inspector.get(f"/inspect/{normal_id}").status_code == 404

    page = inspector.get(f"/inspect/{record_id}").get_data(as_text=True)
    assert "为亲属违规办理低保" in page and "某社区主任" in page
    assert "退回补正" not in page  # integrity concerns are read-only once uploaded: never returned
    with grid_app.app_context():
        audits = db.session.scalars(select(AuditEvent).where(AuditEvent.record_id == record_id,
                                                             AuditEvent.action == "read_confidential")).all()
        assert len(audits) == 1
    assert act(inspector, record_id, "accept", "已转纪委", base="inspect").status_code == 303
    assert record_of(grid_app, record_id).status == "accepted"
    response = act(inspector, record_id, "return", "?", base="inspect")
    assert response.status_code in (409, 422)


def test_an_inspector_cannot_reach_the_review_queue_and_a_supervisor_not_the_inspect_pages(grid_app, supervisor):
    inspector, _ = signed_in(grid_app, "inspector", ["420500"])
    assert inspector.get("/review").status_code == 403
    assert supervisor.get("/inspect").status_code == 403


def test_record_page_shows_every_field_history_and_location(grid_app, tablet, supervisor):
    fields = mediation_fields(location={"lon": 111.29, "lat": 30.70}, agreement_text="双方同意", note="夜间")
    record_id = pushed_record(grid_app, tablet[2], GRID, fields=fields)
    page = supervisor.get(f"/review/{record_id}").get_data(as_text=True)
    for text in ("纠纷类型", "邻里纠纷", "张三", "13800000000", "双方同意",
                 "回访日期", "111.29000, 30.70000", "record-map", "/vendor/leaflet/leaflet.js", "上报"):
        assert text in page, text
    english = supervisor.get(f"/review/{record_id}?lang=en").get_data(as_text=True)
    assert "Dispute type" in english and "Accept" in english


def test_conflicts_are_shown_side_by_side(grid_app, tablet, supervisor):
    from factories import make_device, push_record

    username, _, token = tablet
    _, second_token = make_device(grid_app, username)
    record_id = pushed_record(grid_app, token, GRID)
    client = grid_app.test_client()
    push_record(client, token, "", "", {"summary": "第一台平板的版本"}, record_id=record_id, op="update",
                base_version=1)
    push_record(client, second_token, "", "", {"summary": "第二台平板的版本"}, record_id=record_id, op="update",
                base_version=1, expect="conflict")
    page = supervisor.get(f"/review/{record_id}").get_data(as_text=True)
    assert 'id="conflicts"' in page and "第一台平板的版本" in page and "第二台平板的版本" in page


def test_photos_are_served_to_those_who_may_see_the_record(grid_app, tablet, supervisor):
    import hashlib

    photo = b"\x89PNG\r\n\x1a\n" + b"wangge" * 50
    sha = hashlib.sha256(photo).hexdigest()
    client = grid_app.test_client()
    response = client.put(f"/api/v1/attachments/{sha}", data=photo, headers={
        **auth(tablet[2]), "Content-Type": "image/png", "Content-Range": f"bytes 0-{len(photo) - 1}/{len(photo)}"})
    assert response.status_code == 201, response.get_json()
    record_id = pushed_record(grid_app, tablet[2], GRID, fields=mediation_fields(photos=[sha]))
    page = supervisor.get(f"/review/{record_id}").get_data(as_text=True)
    assert f"/review/{record_id}/photo/{sha}" in page
    served = supervisor.get(f"/review/{record_id}/photo/{sha}")
    assert served.status_code == 200 and served.data == photo and served.mimetype == "image/png"
    assert supervisor.get(f"/review/{record_id}/photo/{'b' * 64}").status_code == 404
    outsider, _ = signed_in(grid_app, "supervisor", ["420502003009"])
    assert outsider.get(f"/review/{record_id}/photo/{sha}").status_code == 404


def test_signing_in_again_after_sign_out_still_lands_on_the_queue(grid_app):
    client = grid_app.test_client()
    username = make_user(grid_app, "supervisor", scopes=[COMMUNITY])
    assert web_login(client, username).headers["Location"] == "/review"
    assert client.get("/review").status_code == 200
