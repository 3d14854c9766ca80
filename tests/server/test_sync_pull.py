"""GET /api/v1/sync/pull: the change log after a cursor, in order, paged, scoped to the device's grids."""
import pytest

from factories import auth, make_device, make_user
from server.extensions import db
from server.records.models import Record
from sync_support import create, integrity_fields, push, update


@pytest.fixture
def grid_tablet(grid_app):
    """A tablet for a grid of its own, so other tests' records never show up in its pulls."""
    def make(grid_code: str):
        username = make_user(grid_app, scopes=[grid_code])
        return make_device(grid_app, username)[1]
    return make


def pull_all(client, token, cursor=None, limit=200):
    pages, changes = 0, []
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = client.get("/api/v1/sync/pull" + query, headers=auth(token)).get_json()
        changes += body["changes"]
        cursor, pages = body["cursor"], pages + 1
        if not body["has_more"]:
            return changes, cursor, pages


def test_pull_pages_through_changes_in_order(grid_app, grid_tablet):
    grid = "420503001001002"
    token = grid_tablet(grid)
    client = grid_app.test_client()
    made = [create(grid_code=grid) for _ in range(25)]
    push(client, token, made)
    changes, cursor, pages = pull_all(client, token, limit=10)
    assert pages == 3
    assert [c["record"]["id"] for c in changes] == [m["record_id"] for m in made]
    assert all(c["record"]["version"] == 1 and c["record"]["fields"]["summary"] for c in changes)
    body = client.get(f"/api/v1/sync/pull?cursor={cursor}", headers=auth(token)).get_json()
    assert body["changes"] == [] and body["has_more"] is False and body["cursor"] == cursor
    assert body["categories_version"] and body["grids_revision"]


def test_pull_after_cursor_returns_only_newer_changes_once_per_record(grid_app, grid_tablet):
    grid = "420503001001003"
    token = grid_tablet(grid)
    client = grid_app.test_client()
    first = create(grid_code=grid)
    push(client, token, [first])
    _, cursor, _ = pull_all(client, token)
    push(client, token, [update(first["record_id"], 1, {"summary": "a"})])
    push(client, token, [update(first["record_id"], 2, {"summary": "b"})])
    changes, _, _ = pull_all(client, token, cursor=cursor)
    assert len(changes) == 1 and changes[0]["record"]["version"] == 3
    assert changes[0]["record"]["fields"]["summary"] == "b"


def test_server_side_changes_reach_the_tablet(grid_app, grid_tablet):
    grid = "420503001001004"
    token = grid_tablet(grid)
    client = grid_app.test_client()
    made = create(grid_code=grid)
    push(client, token, [made])
    _, cursor, _ = pull_all(client, token)
    with grid_app.app_context():  # a supervisor's decision, written the way review services will write it
        from server.records.models import RecordChange
        from server.sync.changelog import lock_for_writing
        record = db.session.get(Record, made["record_id"])
        record.status, record.status_comment, record.version = "returned", "请补充电话", record.version + 1
        lock_for_writing()
        db.session.add(RecordChange(record_id=record.id, version=record.version, grid_code=record.grid_code,
                                    kind="status", changes={"status": {"old": "reported", "new": "returned"}},
                                    comment="请补充电话"))
        db.session.commit()
    changes, _, _ = pull_all(client, token, cursor=cursor)
    assert [(c["record"]["status"], c["record"]["status_comment"]) for c in changes] == [("returned", "请补充电话")]


def test_pull_is_scoped_to_the_devices_grids(grid_app, grid_tablet):
    mine, theirs = "420503001001005", "420503001001006"
    my_token, their_token = grid_tablet(mine), grid_tablet(theirs)
    client = grid_app.test_client()
    push(client, their_token, [create(grid_code=theirs)])
    push(client, my_token, [create(grid_code=mine)])
    changes, _, _ = pull_all(client, my_token)
    assert {c["record"]["grid_code"] for c in changes} == {mine}


def test_confidential_records_come_back_as_receipts(grid_app, grid_tablet):
    grid = "420503001001007"
    token = grid_tablet(grid)
    client = grid_app.test_client()
    concern = create(grid_code=grid, category="integrity", fields=integrity_fields())
    push(client, token, [concern])
    changes, _, _ = pull_all(client, token)
    record = changes[0]["record"]
    assert record["receipt"] is True and "fields" not in record
    assert "某社区主任" not in str(changes)


def test_a_category_this_server_does_not_know_comes_back_as_a_receipt(grid_app, grid_tablet):
    grid = "420503001001010"
    token = grid_tablet(grid)
    client = grid_app.test_client()
    made = create(grid_code=grid)
    push(client, token, [made])
    with grid_app.app_context():  # e.g. a category retired from categories.json after records were made
        db.session.get(Record, made["record_id"]).category = "retired_category"
        db.session.commit()
    record = pull_all(client, token)[0][-1]["record"]
    assert record["receipt"] is True and "fields" not in record


def test_conflicts_are_visible_to_the_tablet(grid_app):
    grid = "420503001001008"
    username = make_user(grid_app, scopes=[grid])
    token, other_token = make_device(grid_app, username)[1], make_device(grid_app, username)[1]
    client = grid_app.test_client()
    made = create(grid_code=grid)
    push(client, token, [made, update(made["record_id"], 1, {"summary": "A"})])
    push(client, other_token, [update(made["record_id"], 1, {"summary": "B"})])
    changes, _, _ = pull_all(client, token)
    assert changes[0]["record"]["conflicts"] == [
        {"field": "summary", "server_value": "A", "device_value": "B", "version": 3}]


@pytest.mark.parametrize("query,field", [
    ("?cursor=garbage!!", "cursor"),
    ("?cursor=YzM6MTA", "cursor"),  # c3:10, a format this server never issued
    ("?cursor=YzE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "cursor"),  # c1:999...9, beyond a 64-bit id (was a 500)
    ("?limit=0", "limit"),
    ("?limit=5000", "limit"),
    ("?limit=ten", "limit"),
    ("?colour=red", "colour"),
])
def test_bad_pull_arguments_are_400(grid_app, grid_tablet, query, field):
    token = grid_tablet("420503001001009")
    response = grid_app.test_client().get("/api/v1/sync/pull" + query, headers=auth(token))
    assert response.status_code == 400 and field in response.get_json()["errors"]


def test_pull_needs_a_device_token(grid_app):
    client = grid_app.test_client()
    assert client.get("/api/v1/sync/pull").status_code == 401


def test_a_cursor_from_before_the_change_log_became_the_history_pulls_again_from_the_start(grid_app, grid_tablet):
    """c1 cursors numbered the change_log table that migration 0008 dropped: a tablet holding one gets everything
    again (applying what it has changes nothing), not a 400 it cannot recover from, nor a skip."""
    import base64

    token = grid_tablet("420503001001007")
    client = grid_app.test_client()
    push(client, token, [create(grid_code="420503001001007") for _ in range(3)])
    everything, _, _ = pull_all(client, token)
    old = base64.urlsafe_b64encode(b"c1:999999").decode().rstrip("=")
    again, _, _ = pull_all(client, token, cursor=old)
    assert [c["record"]["id"] for c in again] == [c["record"]["id"] for c in everything] and len(again) >= 3


def test_migration_0008_round_trip_keeps_the_change_log(empty_app):
    """Downgrading rebuilds change_log from the history in commit order; upgrading again takes each version's grid
    back from it, and pulls still see every change once."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from grids import DATASET_PATH
    from server.geo.importer import import_file

    with empty_app.app_context():
        import_file(DATASET_PATH)
    grid = "420503001001008"
    token = make_device(empty_app, make_user(empty_app, scopes=[grid]))[1]
    client = empty_app.test_client()
    made = [create(grid_code=grid) for _ in range(3)]
    push(client, token, made)
    push(client, token, [update(made[0]["record_id"], 1, {"summary": "改"})])
    with empty_app.app_context():
        downgrade(revision="0007_create_receipts")
        logged = db.session.execute(text("SELECT record_id, version, grid_code FROM change_log ORDER BY id")).all()
        assert [tuple(row) for row in logged] == [(m["record_id"], 1, grid) for m in made] + [
            (made[0]["record_id"], 2, grid)]
        db.session.commit()
        upgrade()
        grids = db.session.execute(text("SELECT DISTINCT grid_code FROM record_changes WHERE record_id IN "
                                        "(:a, :b, :c)"), dict(zip("abc", (m["record_id"] for m in made)))).all()
        assert [tuple(row) for row in grids] == [(grid,)]
    changes, _, _ = pull_all(client, token)
    assert sorted(c["record"]["id"] for c in changes) == sorted(m["record_id"] for m in made)
