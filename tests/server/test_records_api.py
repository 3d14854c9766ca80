"""The records read API on both backends: scope per role, integrity concerns for inspectors only (audited),
personal fields, history and conflicts, filters, keyset paging and argument errors.

Records are made the real way: enrolled tablets push them through /api/v1/sync/push. The grid app is shared by
the whole session, so every assertion is about this module's own users and record ids.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from factories import auth, make_device, make_user, push_record, user_token
from server.extensions import db
from server.records.models import AuditEvent, Record

GRID_A = "420502001001001"  # community C1
GRID_B = "420502001001002"  # community C1, the neighbour grid
GRID_X = "420502001002001"  # community C2, same street
GRID_D = "420503001001001"  # another district
GRID_P = "420504001005011"  # paging
GRID_T = "420504001005010"  # paging with equal receive times
C1, C2 = "420502001001", "420502001002"
SHA = "ab" * 32


def mediation(summary="楼上噪音扰民", **extra):
    return {"dispute_type": "neighbour", "summary": summary, "outcome": "in_progress",
            "parties": [{"name": "张三", "role": "applicant", "phone": "13800000000"},
                        {"name": "李四", "role": "respondent"}], **extra}


def labor(**extra):
    return {"service_type": "job_referral", "person": [{"name": "王五", "phone": "13900000000"}],
            "outcome": "referred", "referred_to": "人社局", **extra}


def integrity():
    return {"urgency": "urgent", "subject_kind": "community_cadre", "subject": "某社区主任",
            "concern_type": "benefit_favouritism", "description": "为亲属违规办理低保", "source": "resident_report",
            "reporter": [{"name": "匿名居民"}]}


def _token(app, role, scopes):
    username = make_user(app, role, scopes)
    return SimpleNamespace(username=username, token=user_token(app, username))


def _tablet(app, grid):
    username = make_user(app, "grid_admin", (grid,))
    uid, token = make_device(app, username)
    return SimpleNamespace(username=username, uid=uid, device_token=token, token=user_token(app, username))


@pytest.fixture(scope="module")
def world(grid_app):
    app, client = grid_app, grid_app.test_client()
    w = SimpleNamespace(app=app)
    w.ga_a, w.ga_b, w.ga_x, w.ga_d, w.ga_p = (_tablet(app, g) for g in (GRID_A, GRID_B, GRID_X, GRID_D, GRID_P))
    w.a2_uid, w.a2_device_token = make_device(app, w.ga_a.username)  # a second tablet of the same administrator
    w.sup_c1 = _token(app, "supervisor", (C1,))
    w.inspector = _token(app, "inspector", ("420502",))
    w.inspector_other = _token(app, "inspector", ("420503",))
    w.admin = _token(app, "admin", ("420500",))
    w.viewer = _token(app, "city_viewer", ("420500",))

    def create(tablet_token, category, grid, fields):
        return push_record(client, tablet_token, category, grid, fields)["record_id"]

    w.med_a = create(w.ga_a.device_token, "mediation", GRID_A, mediation(photos=[SHA]))
    w.lab_b = create(w.ga_b.device_token, "labor_service", GRID_B, labor())
    w.med_x = create(w.ga_x.device_token, "mediation", GRID_X, mediation())
    w.med_d = create(w.ga_d.device_token, "mediation", GRID_D, mediation())
    w.integ_a = create(w.ga_a.device_token, "integrity", GRID_A, integrity())

    # A record edited on two tablets: v2 update (tablet 1), v3 merge and v4 conflict (tablet 2, both on base 1).
    w.med_c = create(w.ga_a.device_token, "mediation", GRID_A, mediation("原始摘要"))
    push_record(client, w.ga_a.device_token, None, None, {"summary": "平板一的摘要"}, op="update",
                record_id=w.med_c, base_version=1)
    merged = push_record(client, w.a2_device_token, None, None, {"outcome": "agreement"}, op="update",
                         record_id=w.med_c, base_version=1)
    assert merged["merged"] is True
    push_record(client, w.a2_device_token, None, None, {"summary": "平板二的摘要"}, op="update",
                record_id=w.med_c, base_version=1, expect="conflict")

    w.paged = [create(w.ga_p.device_token, "mediation", GRID_P, mediation(f"第{i}件")) for i in range(7)]
    w.all_mine = {w.med_a, w.lab_b, w.med_x, w.med_d, w.integ_a, w.med_c, *w.paged}
    return w


def _list(client, token, query="", status=200):
    response = client.get(f"/api/v1/records{query}", headers=auth(token))
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _ids(client, token, query=""):
    """Every record id over all pages (the API caps a page at 500)."""
    ids, cursor = [], None
    while True:
        sep = "&" if "?" in query else "?"
        body = _list(client, token, query + (f"{sep}cursor={cursor}" if cursor else ""))
        ids += [r["id"] for r in body["records"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
        query = query or "?limit=500"


def _detail(client, token, record_id):
    return client.get(f"/api/v1/records/{record_id}", headers=auth(token))


def _audits(app, user, action, record_id=None):
    from server.accounts.services import get_user

    with app.app_context():
        query = select(func.count(AuditEvent.id)).where(AuditEvent.user_id == get_user(user.username).id,
                                                       AuditEvent.action == action)
        if record_id:
            query = query.where(AuditEvent.record_id == record_id)
        return db.session.scalar(query)


# --- authentication and roles -------------------------------------------------------------------------------------

def test_no_token_is_401_and_city_viewer_403(client, world):
    for path in ("/api/v1/records", f"/api/v1/records/{world.med_a}"):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        forbidden = client.get(path, headers=auth(world.viewer.token))
        assert forbidden.status_code == 403
        assert set(forbidden.get_json()) == {"code", "status", "message", "errors"}


def test_grid_admin_sees_own_grid_not_the_neighbours(client, world):
    seen = set(_ids(client, world.ga_a.token, "?limit=500")) & world.all_mine
    assert seen == {world.med_a, world.med_c}  # not the integrity concern they filed themselves
    assert _detail(client, world.ga_a.token, world.med_a).status_code == 200
    assert _detail(client, world.ga_a.token, world.lab_b).status_code == 404
    # The tablet's own device token reads the same way.
    assert _detail(client, world.ga_a.device_token, world.med_a).status_code == 200
    assert _detail(client, world.ga_b.token, world.med_a).status_code == 404


def test_supervisor_sees_the_community_not_another(client, world):
    seen = set(_ids(client, world.sup_c1.token, "?limit=500")) & world.all_mine
    assert seen == {world.med_a, world.lab_b, world.med_c}
    assert _detail(client, world.sup_c1.token, world.lab_b).status_code == 200
    assert _detail(client, world.sup_c1.token, world.med_x).status_code == 404


def test_inspector_and_admin_scopes(client, world):
    inspector = set(_ids(client, world.inspector.token, "?limit=500")) & world.all_mine
    assert inspector == {world.med_a, world.lab_b, world.med_x, world.integ_a, world.med_c}
    other = set(_ids(client, world.inspector_other.token, "?limit=500")) & world.all_mine
    assert other == {world.med_d}
    assert _detail(client, world.inspector_other.token, world.integ_a).status_code == 404
    admin = set(_ids(client, world.admin.token, "?limit=500")) & world.all_mine
    assert admin == world.all_mine - {world.integ_a}


def test_unknown_and_hidden_records_answer_alike(client, world):
    unknown = _detail(client, world.sup_c1.token, str(uuid.uuid4()))
    out_of_scope = _detail(client, world.sup_c1.token, world.med_x)
    assert unknown.status_code == out_of_scope.status_code == 404
    unknown_body, hidden_body = unknown.get_json(), out_of_scope.get_json()
    unknown_body["message"] = unknown_body["message"].replace(unknown.request.path.rsplit("/", 1)[1], world.med_x)
    assert unknown_body == hidden_body
    malformed = _detail(client, world.sup_c1.token, "not-a-uuid")
    assert malformed.status_code == 400 and "record_id" in malformed.get_json()["errors"]
    # Upper-case UUIDs name the same record.
    assert _detail(client, world.sup_c1.token, world.med_a.upper()).get_json()["id"] == world.med_a


# --- integrity concerns -------------------------------------------------------------------------------------------

def test_integrity_concerns_are_for_inspectors_only(client, world):
    for reader in (world.sup_c1, world.ga_a, world.admin):
        assert _detail(client, reader.token, world.integ_a).status_code == 404
        listed = _list(client, reader.token, "?category=integrity&limit=500")["records"]
        assert world.integ_a not in {r["id"] for r in listed}
        for record in _list(client, reader.token, "?limit=500")["records"]:
            assert record["category"] != "integrity" and "confidential" not in record
    detail = _detail(client, world.sup_c1.token, world.med_a).get_json()
    assert "confidential" not in detail
    assert all("confidential_changes" not in entry for entry in detail["history"])


def test_inspector_detail_has_the_confidential_payload_and_is_audited(client, world):
    before = _audits(world.app, world.inspector, "read_confidential", world.integ_a)
    response = _detail(client, world.inspector.token, world.integ_a)
    assert response.status_code == 200
    body = response.get_json()
    assert body["category"] == "integrity" and body["urgency"] == "urgent"
    assert body["fields"] == {"urgency": "urgent"}
    assert body["confidential"]["subject"] == "某社区主任"
    assert body["confidential"]["reporter"] == [{"name": "匿名居民"}]
    [created] = body["history"]
    assert created["kind"] == "create" and created["confidential_changes"]["subject"] == {
        "old": None, "new": "某社区主任"}
    assert "subject" not in created["changes"]
    assert _audits(world.app, world.inspector, "read_confidential", world.integ_a) == before + 1
    _detail(client, world.inspector.token, world.integ_a)
    assert _audits(world.app, world.inspector, "read_confidential", world.integ_a) == before + 2

    # Ordinary records are not audited, and a supervisor's reads never are.
    total = _audits(world.app, world.inspector, "read_confidential")
    assert _detail(client, world.inspector.token, world.med_a).status_code == 200
    assert _audits(world.app, world.inspector, "read_confidential") == total
    _list(client, world.sup_c1.token)
    _detail(client, world.sup_c1.token, world.med_a)
    assert _audits(world.app, world.sup_c1, "read_confidential") == _audits(world.app, world.sup_c1,
                                                                            "list_confidential") == 0


def test_each_integrity_record_in_an_inspector_list_is_audited(client, world):
    with world.app.app_context():
        from server.accounts.services import get_user

        user_id = get_user(world.inspector.username).id
    before = _audits(world.app, world.inspector, "list_confidential", world.integ_a)
    body = _list(client, world.inspector.token, f"?grid={GRID_A}&limit=500")
    listed = {r["id"]: r for r in body["records"]}
    assert world.integ_a in listed and world.med_a in listed
    assert "confidential" not in listed[world.integ_a]  # lists carry routing data only; the payload is on detail
    assert _audits(world.app, world.inspector, "list_confidential", world.integ_a) == before + 1
    assert _audits(world.app, world.inspector, "list_confidential", world.med_a) == 0
    integrity_listed = [r["id"] for r in body["records"] if r["category"] == "integrity"]
    with world.app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.user_id == user_id,
                                                           AuditEvent.action == "list_confidential")
                                  .order_by(AuditEvent.id.desc()).limit(len(integrity_listed))).all()
        assert sorted(row.record_id for row in rows) == sorted(integrity_listed)
        assert rows[0].detail["filters"]["grid"] == GRID_A
    # A list that shows no integrity record writes nothing.
    count = _audits(world.app, world.inspector, "list_confidential")
    _list(client, world.inspector.token, "?category=mediation&limit=5")
    assert _audits(world.app, world.inspector, "list_confidential") == count


# --- content ------------------------------------------------------------------------------------------------------

def test_supervisor_sees_personal_fields_and_every_record_field(client, world):
    body = _detail(client, world.sup_c1.token, world.med_a).get_json()
    assert body["fields"]["parties"][0] == {"name": "张三", "role": "applicant", "phone": "13800000000"}
    assert set(body) == {"id", "category", "grid_code", "community_code", "street_code", "district_code", "status",
                         "status_comment", "urgency", "version", "fields", "occurred_at",
                         "occurred_at_server_est", "received_at", "updated_at", "created_by", "device",
                         "open_conflicts", "history", "conflicts", "attachments"}
    assert body["grid_code"] == GRID_A and body["community_code"] == C1 and body["district_code"] == "420502"
    assert body["created_by"] == world.ga_a.username and body["device"] == world.ga_a.uid
    assert body["status"] == "reported" and body["version"] == 1
    for key in ("occurred_at", "received_at", "updated_at"):
        assert body[key].endswith("Z") and datetime.fromisoformat(body[key].replace("Z", "+00:00"))
    assert body["attachments"] == [{"sha256": SHA, "received_bytes": 0, "total_bytes": None, "complete": False}]
    labor_body = _detail(client, world.sup_c1.token, world.lab_b).get_json()
    assert labor_body["fields"]["person"] == [{"name": "王五", "phone": "13900000000"}]
    listed = {r["id"]: r for r in _list(client, world.sup_c1.token, f"?grid={GRID_A}&limit=500")["records"]}
    assert listed[world.med_a]["fields"]["parties"][1]["name"] == "李四"
    assert not {"history", "conflicts", "attachments"} & set(listed[world.med_a])


def test_visible_content_hides_personal_fields_from_city_roles(world):
    from server.accounts.auth import Principal
    from server.accounts.services import get_user
    from server.records.queries import visible_content

    with world.app.app_context():
        record = db.session.get(Record, world.med_a)
        viewer = Principal(get_user(world.viewer.username))
        supervisor = Principal(get_user(world.sup_c1.username))
        inspector = Principal(get_user(world.inspector.username))
        assert "parties" not in visible_content(record, viewer)["fields"]
        assert visible_content(record, viewer)["fields"]["summary"] == "楼上噪音扰民"
        assert visible_content(record, supervisor)["fields"]["parties"][0]["name"] == "张三"
        assert "confidential" not in visible_content(record, inspector)  # not a confidential category
        secret = db.session.get(Record, world.integ_a)
        assert "confidential" not in visible_content(secret, supervisor)
        assert visible_content(secret, inspector)["confidential"]["subject"] == "某社区主任"


def test_history_and_conflict_keep_both_sides(client, world):
    body = _detail(client, world.sup_c1.token, world.med_c).get_json()
    assert body["version"] == 4 and body["open_conflicts"] == 1
    assert body["fields"]["summary"] == "平板二的摘要" and body["fields"]["outcome"] == "agreement"
    history = body["history"]
    assert [(h["version"], h["kind"]) for h in history] == [(1, "create"), (2, "update"), (3, "merge"),
                                                            (4, "conflict")]
    assert history[0]["changes"]["summary"] == {"old": None, "new": "原始摘要"}
    assert history[1]["changes"] == {"summary": {"old": "原始摘要", "new": "平板一的摘要"}}
    assert history[2]["changes"] == {"outcome": {"old": "in_progress", "new": "agreement"}}
    assert history[3]["changes"] == {"summary": {"old": "平板一的摘要", "new": "平板二的摘要"}}
    assert [h["device"] for h in history] == [world.ga_a.uid, world.ga_a.uid, world.a2_uid, world.a2_uid]
    assert all(h["actor"] == world.ga_a.username and h["at"].endswith("Z") for h in history)
    [conflict] = body["conflicts"]
    assert conflict["field"] == "summary" and conflict["base_version"] == 1 and conflict["version"] == 4
    assert conflict["server_value"] == "平板一的摘要" and conflict["device_value"] == "平板二的摘要"
    assert conflict["resolved"] is False and conflict["resolved_at"] is None and conflict["device"] == world.a2_uid


# --- filters and paging -------------------------------------------------------------------------------------------

def test_filters(client, world):
    token = world.inspector.token
    assert set(_ids(client, token, "?category=labor_service&limit=500")) & world.all_mine == {world.lab_b}
    assert set(_ids(client, token, f"?grid={GRID_B}&limit=500")) & world.all_mine == {world.lab_b}
    assert set(_ids(client, token, f"?community={C2}&limit=500")) & world.all_mine == {world.med_x}
    assert world.med_x in _ids(client, token, "?status=reported&limit=500")
    assert not set(_ids(client, token, "?status=closed&limit=500")) & world.all_mine
    assert set(_ids(client, token, f"?grid={GRID_A}&category=mediation&limit=500")) & world.all_mine == {
        world.med_a, world.med_c}
    # A community outside the scope is simply empty, not an error.
    assert not set(_ids(client, world.sup_c1.token, f"?community={C2}")) & world.all_mine

    received = _detail(client, token, world.med_x).get_json()["received_at"]
    at = datetime.fromisoformat(received.replace("Z", "+00:00"))
    later = (at + timedelta(milliseconds=1)).isoformat()
    assert world.med_x in _ids(client, token, f"?grid={GRID_X}&from={received}")
    assert world.med_x not in _ids(client, token, f"?grid={GRID_X}&to={received}")  # `to` is exclusive
    assert world.med_x in _ids(client, token, f"?grid={GRID_X}&to={later.replace('+', '%2B')}")
    # Offsets other than Z are understood (08:00 in Yichang).
    local = (at + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=8))).isoformat()
    assert world.med_x not in _ids(client, token, f"?grid={GRID_X}&from={local.replace('+', '%2B')}")


def _walk(client, token, query, limit, cursor=None):
    pages = []
    while True:
        body = _list(client, token, f"{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        pages.append([(r["received_at"], r["id"]) for r in body["records"]])
        assert len(body["records"]) <= limit
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100


def _assert_well_paged(pages, expected_ids):
    flat = [item for page in pages for item in page]
    ids = [record_id for _, record_id in flat]
    assert len(ids) == len(set(ids)), "a record appeared on two pages"
    assert expected_ids <= set(ids), "a record was skipped"
    assert flat == sorted(flat, key=lambda item: (item[0], item[1]), reverse=True)


def test_keyset_paging_has_no_duplicates_and_no_gaps(client, world):
    for limit in (1, 2, 3, 7):
        pages = _walk(client, world.admin.token, f"?grid={GRID_P}", limit)
        _assert_well_paged(pages, set(world.paged))
    # Records arriving while someone pages do not shift the pages already handed out.
    first = _list(client, world.admin.token, f"?grid={GRID_P}&limit=3")
    push_record(client, world.ga_p.device_token, "mediation", GRID_P, mediation("新来的"))
    rest = _walk(client, world.admin.token, f"?grid={GRID_P}", 3, cursor=first["next_cursor"])
    seen = [r["id"] for r in first["records"]] + [i for page in rest for _, i in page]
    assert set(world.paged) <= set(seen) and len(seen) == len(set(seen))


def test_paging_breaks_ties_on_receive_time_by_id(client, world):
    tablet = _tablet(world.app, GRID_T)
    ids = {push_record(client, tablet.device_token, "mediation", GRID_T, mediation())["record_id"] for _ in range(5)}
    same = datetime(2024, 5, 1, 8, 30, 0, 123456, tzinfo=timezone.utc)
    with world.app.app_context():
        db.session.execute(update(Record).where(Record.id.in_(ids)).values(received_at=same))
        db.session.commit()
    for limit in (1, 2, 4):
        pages = _walk(client, tablet.token, f"?grid={GRID_T}", limit)
        _assert_well_paged(pages, ids)
    assert set(_ids(client, tablet.token, f"?grid={GRID_T}&from=2024-05-01T08:30:00.123456Z"
                                          f"&to=2024-05-01T08:30:00.123457Z")) == ids


@pytest.mark.parametrize("query,argument", [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=many", "limit"),
    ("grid=4205020010010", "grid"), ("community=42050200100x", "community"),
    ("status=lost", "status"), ("category=gossip", "category"),
    ("from=yesterday", "from"), ("to=2024-13-01", "to"), ("from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z", "to"),
    ("cursor=bm90LWEtY3Vyc29y", "cursor"), ("cursor=%%%", "cursor"), ("colour=red", "colour"),
])
def test_bad_arguments_are_400_naming_the_argument(client, world, query, argument):
    response = client.get(f"/api/v1/records?{query}", headers=auth(world.sup_c1.token))
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["code"] == "bad_request" and argument in body["errors"], body


@pytest.mark.parametrize("query", [
    "from=0001-01-01T00:00:00%2B05:00", "to=9999-12-31T23:59:59-05:00", "from=0001-01-01T00:00:00",
    "cursor=cjF8MDAwMS0wMS0wMVQwMDowMDowMCswNTowMHw2ZjFjMmEzZS0xZDJiLTRjNWQtOGU5Zi0wYTFiMmMzZDRlNWY",  # a cursor whose time is before year 1 in UTC
])
def test_times_at_the_ends_of_the_calendar_are_never_a_500(client, world, query):
    response = client.get(f"/api/v1/records?{query}", headers=auth(world.sup_c1.token))
    assert response.status_code in (200, 400), response.get_json()


def test_attachments_expected_turn_complete_when_uploaded(client, world):
    import hashlib

    photo = b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes * 64
    sha = hashlib.sha256(photo).hexdigest()
    record_id = push_record(client, world.ga_a.device_token, "mediation", GRID_A,
                            mediation(photos=[sha, SHA]))["record_id"]
    before = _detail(client, world.sup_c1.token, record_id).get_json()["attachments"]
    assert {a["sha256"]: a["complete"] for a in before} == {sha: False, SHA: False}
    upload = client.put(f"/api/v1/attachments/{sha}", data=photo, content_type="image/png",
                        headers=auth(world.ga_a.device_token))
    assert upload.status_code == 201, upload.get_json()
    after = {a["sha256"]: a for a in _detail(client, world.sup_c1.token, record_id).get_json()["attachments"]}
    assert after[sha] == {"sha256": sha, "received_bytes": len(photo), "total_bytes": len(photo), "complete": True}
    assert after[SHA]["complete"] is False


def test_a_category_the_catalogue_no_longer_knows_is_treated_as_confidential(client, world):
    record_id = push_record(client, world.ga_x.device_token, "mediation", GRID_X, mediation())["record_id"]

    def set_category(category):
        with world.app.app_context():
            db.session.execute(update(Record).where(Record.id == record_id).values(category=category))
            db.session.commit()

    set_category("retired_kind")
    try:
        assert _detail(client, world.sup_c1.token, record_id).status_code == 404
        assert _detail(client, world.admin.token, record_id).status_code == 404
        assert record_id not in _ids(client, world.admin.token, f"?grid={GRID_X}")
        before = _audits(world.app, world.inspector, "read_confidential", record_id)
        body = _detail(client, world.inspector.token, record_id).get_json()
        assert body["category"] == "retired_kind" and body["fields"]["summary"] == "楼上噪音扰民"
        assert _audits(world.app, world.inspector, "read_confidential", record_id) == before + 1
    finally:
        set_category("mediation")  # the app is shared by the session: leave no unknown category behind
