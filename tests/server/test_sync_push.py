"""POST /api/v1/sync/push: exactly-once application, per-item results, merges and conflicts, envelope errors."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from factories import FIRST_COMMUNITY, auth, make_device, make_user, user_token
from server.devices.models import Device
from server.extensions import db
from server.records.models import Record, RecordChange, RecordConflict
from sync_support import create, integrity_fields, mediation_fields, push, stored_receipts, update


@pytest.fixture
def tablet(grid_app):
    username = make_user(grid_app)
    uid, token = make_device(grid_app, username)
    return grid_app.test_client(), token, uid


@pytest.fixture
def two_tablets(grid_app):
    """Two tablets of one grid administrator (an old one and its replacement): edits can cross."""
    username = make_user(grid_app)
    return grid_app.test_client(), make_device(grid_app, username)[1], make_device(grid_app, username)[1]


def _stored(app, mutation_ids) -> int:
    return len(stored_receipts(app, mutation_ids))


def test_create_is_applied_once_and_retries_are_duplicates(grid_app, tablet):
    client, token, _ = tablet
    mutation = create()
    first = push(client, token, [mutation]).get_json()["results"][0]
    assert first["status"] == "applied" and first["version"] == 1
    again = push(client, token, [mutation, mutation]).get_json()["results"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert all(r["original_status"] == "applied" and r["version"] == 1 for r in again)
    assert _stored(grid_app, [mutation["mutation_id"]]) == 1
    with grid_app.app_context():
        record = db.session.get(Record, mutation["record_id"])
        assert record.version == 1 and record.content["summary"] == "楼上噪音扰民"
        assert record.community_code == FIRST_COMMUNITY and record.status == "reported"
        assert db.session.scalar(select(func.count(RecordChange.id))
                                 .where(RecordChange.record_id == record.id)) == 1


def test_same_mutation_twice_in_one_batch_is_stored_once(grid_app, tablet):
    client, token, _ = tablet
    mutation = create()
    results = push(client, token, [mutation, mutation]).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "duplicate"]
    assert _stored(grid_app, [mutation["mutation_id"]]) == 1


def test_a_create_for_a_record_id_that_exists_is_rejected_and_the_rest_applied(grid_app, tablet):
    """Record ids are not looked up before the bulk write: the taken one fails the insert, and the careful pass
    rejects only it, by name, and stores the others exactly once."""
    client, token, _ = tablet
    taken = create()
    assert push(client, token, [taken]).get_json()["results"][0]["status"] == "applied"
    before, copy, after = create(), create(record_id=taken["record_id"], fields=mediation_fields("另一份")), create()
    results = push(client, token, [before, copy, after]).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["errors"] == {"record_id": ["already exists"]} and results[1]["retry"] is False
    again = push(client, token, [before, copy, after]).get_json()["results"]
    assert [r["status"] for r in again] == ["duplicate", "rejected", "duplicate"]
    assert _stored(grid_app, [before["mutation_id"], copy["mutation_id"], after["mutation_id"]]) == 2
    with grid_app.app_context():
        assert db.session.get(Record, taken["record_id"]).content["summary"] == "楼上噪音扰民"  # untouched
        assert db.session.scalar(select(func.count(RecordChange.id))
                                 .where(RecordChange.record_id == taken["record_id"])) == 1


def test_two_creates_of_one_record_id_in_a_batch_apply_the_first(grid_app, tablet):
    client, token, _ = tablet
    first = create()
    second = create(record_id=first["record_id"], fields=mediation_fields("第二份"))
    results = push(client, token, [first, second]).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected"]
    assert results[1]["errors"] == {"record_id": ["already exists"]}
    with grid_app.app_context():
        assert db.session.get(Record, first["record_id"]).content["summary"] == "楼上噪音扰民"


def test_reused_mutation_id_with_another_body_is_rejected(grid_app, tablet):
    client, token, _ = tablet
    mutation = create()
    push(client, token, [mutation])
    forged = {**mutation, "fields": mediation_fields(summary="changed")}
    result = push(client, token, [forged]).get_json()["results"][0]
    assert result["status"] == "rejected" and "mutation_id" in result["errors"]
    with grid_app.app_context():
        assert db.session.get(Record, mutation["record_id"]).content["summary"] == "楼上噪音扰民"


def test_key_order_does_not_make_a_different_body(tablet):
    client, token, _ = tablet
    mutation = create()
    push(client, token, [mutation])
    reordered = dict(reversed(list(mutation.items())))
    assert push(client, token, [reordered]).get_json()["results"][0]["status"] == "duplicate"


def test_one_bad_item_never_sinks_the_batch(grid_app, tablet):
    client, token, _ = tablet
    good1, good2 = create(), create()
    bad_fields = create(fields={"dispute_type": "aliens", "summary": 5})
    bad_shape = {"mutation_id": "not-a-uuid", "op": "explode"}
    not_object = ["a list"]
    unknown_grid = create(grid_code="420502001001999")
    other_grid = create(grid_code="420502001001002")  # real grid, but not this administrator's
    unknown_category = create(category="gossip")
    batch = [good1, bad_fields, bad_shape, not_object, unknown_grid, other_grid, unknown_category, good2]
    response = push(client, token, batch)
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["applied"] + ["rejected"] * 6 + ["applied"]
    assert set(results[1]["errors"]["fields"]) >= {"dispute_type", "summary", "parties", "outcome"}
    assert {"mutation_id", "op", "seq", "record_id", "device_time", "fields"} <= set(results[2]["errors"])
    assert "grid_code" in results[4]["errors"] and "grid_code" in results[5]["errors"]
    assert "category" in results[6]["errors"]
    assert not any(r["retry"] for r in results[1:7])
    assert _stored(grid_app, [good1["mutation_id"], good2["mutation_id"]]) == 2
    with grid_app.app_context():
        assert db.session.get(Record, bad_fields["record_id"]) is None


def test_times_that_fall_outside_the_calendar_in_utc_are_rejected_by_name(tablet):
    """0001-01-01 at +02:00 is before year 1 in UTC: a per-item rejection, never a 500 (found by hypothesis)."""
    client, token, _ = tablet
    early = "0001-01-01T00:00:00+02:00"
    visit = {"started_at": early, "ended_at": "2026-11-27T09:00:00Z",
             "households": [{"household": "3-201", "outcome": "visited"}]}
    response = push(client, token, [create(device_time=early), create(category="visit_round", fields=visit)])
    assert response.status_code == 200
    first, second = response.get_json()["results"]
    assert first["status"] == "rejected" and "device_time" in first["errors"]
    assert second["status"] == "rejected" and "started_at" in second["errors"]["fields"]


@pytest.mark.parametrize("number", [2**31, 2**63, 2**70])
def test_numbers_too_big_for_the_database_are_rejected_by_name(tablet, number):
    """Found as 500s: PostgreSQL's INTEGER overflowed at 2**31, SQLite's driver at 2**63."""
    client, token, _ = tablet
    response = push(client, token, [create(seq=number), create(), update(str(uuid.uuid4()), number, {"note": "x"})])
    assert response.status_code == 200
    statuses = [(r["status"], sorted(r.get("errors") or {})) for r in response.get_json()["results"]]
    assert statuses == [("rejected", ["seq"]), ("applied", []), ("rejected", ["base_version"])]


def test_create_rules(tablet):
    client, token, _ = tablet
    no_grid = create()
    del no_grid["grid_code"]
    with_base = create(base_version=3)
    results = push(client, token, [no_grid, with_base]).get_json()["results"]
    assert "grid_code" in results[0]["errors"] and "base_version" in results[1]["errors"]
    existing = create()
    push(client, token, [existing])
    clash = create(record_id=existing["record_id"])
    assert "record_id" in push(client, token, [clash]).get_json()["results"][0]["errors"]


def test_update_applies_with_history(grid_app, tablet):
    client, token, _ = tablet
    created = create()
    push(client, token, [created])
    edit = update(created["record_id"], 1, {"summary": "已调解", "outcome": "agreement"})
    result = push(client, token, [edit]).get_json()["results"][0]
    assert result["status"] == "applied" and result["version"] == 2 and "merged" not in result
    with grid_app.app_context():
        changes = db.session.scalars(select(RecordChange).where(RecordChange.record_id == created["record_id"])
                                     .order_by(RecordChange.version)).all()
        assert [c.kind for c in changes] == ["create", "update"]
        assert changes[1].changes == {"summary": {"old": "楼上噪音扰民", "new": "已调解"},
                                      "outcome": {"old": "in_progress", "new": "agreement"}}
        assert changes[1].mutation_id == edit["mutation_id"]


def test_update_with_nothing_new_creates_no_version(grid_app, tablet):
    client, token, _ = tablet
    created = create()
    push(client, token, [created])
    same = update(created["record_id"], 1, {"summary": "楼上噪音扰民"})
    assert push(client, token, [same]).get_json()["results"][0] == {
        "mutation_id": same["mutation_id"], "record_id": created["record_id"], "status": "applied", "version": 1}


def test_stale_update_on_other_fields_is_merged(grid_app, two_tablets):
    client, token_a, token_b = two_tablets
    created = create()
    push(client, token_a, [created])
    push(client, token_a, [update(created["record_id"], 1, {"summary": "first edit"})])
    stale = update(created["record_id"], 1, {"outcome": "agreement"})
    result = push(client, token_b, [stale]).get_json()["results"][0]
    assert result["status"] == "applied" and result["merged"] is True and result["version"] == 3
    with grid_app.app_context():
        record = db.session.get(Record, created["record_id"])
        assert record.content["summary"] == "first edit" and record.content["outcome"] == "agreement"
        assert record.open_conflicts == 0


def test_overlapping_stale_update_is_a_conflict_that_keeps_both_sides(grid_app, two_tablets):
    client, token_a, token = two_tablets
    created = create()
    push(client, token_a, [created])
    push(client, token_a, [update(created["record_id"], 1, {"summary": "tablet A's words"})])
    stale = update(created["record_id"], 1, {"summary": "tablet B's words", "outcome": "failed"})
    result = push(client, token, [stale]).get_json()["results"][0]
    assert result["status"] == "conflict" and result["version"] == 3
    assert result["conflicts"] == [{"field": "summary", "server_value": "tablet A's words",
                                    "device_value": "tablet B's words"}]
    retry = push(client, token, [stale]).get_json()["results"][0]
    assert retry["status"] == "duplicate" and retry["original_status"] == "conflict"
    with grid_app.app_context():
        record = db.session.get(Record, created["record_id"])
        assert record.open_conflicts == 1 and record.content["outcome"] == "failed"
        conflict = db.session.scalars(select(RecordConflict).where(RecordConflict.record_id == record.id)).one()
        assert (conflict.server_value, conflict.device_value) == ("tablet A's words", "tablet B's words")
        history = db.session.scalars(select(RecordChange).where(RecordChange.record_id == record.id)
                                     .order_by(RecordChange.version)).all()
        values = [c.changes.get("summary", {}).get("new") for c in history]
        assert values == ["楼上噪音扰民", "tablet A's words", "tablet B's words"]
        assert history[-1].kind == "conflict"


def test_a_tablets_own_successive_edits_never_conflict(grid_app, tablet):
    client, token, _ = tablet
    created = create()
    # Three edits made offline one after another, all on the version the tablet last saw (1).
    edits = [update(created["record_id"], 1, {"summary": f"edit {n}"}) for n in range(3)]
    results = push(client, token, [created, *edits]).get_json()["results"]
    assert [r["status"] for r in results] == ["applied"] * 4 and [r["version"] for r in results] == [1, 2, 3, 4]
    with grid_app.app_context():
        assert db.session.get(Record, created["record_id"]).content["summary"] == "edit 2"


def test_update_before_create_asks_to_retry_later(grid_app, tablet):
    client, token, _ = tablet
    created = create()
    early = update(created["record_id"], 1, {"summary": "edited"})
    result = push(client, token, [early]).get_json()["results"][0]
    assert result["status"] == "rejected" and result["retry"] is True
    assert [r["status"] for r in push(client, token, [created, early]).get_json()["results"]] == ["applied", "applied"]


def test_base_version_ahead_of_server_asks_to_retry(tablet):
    client, token, _ = tablet
    created = create()
    push(client, token, [created])
    result = push(client, token, [update(created["record_id"], 5, {"summary": "x"})]).get_json()["results"][0]
    assert result["status"] == "rejected" and result["retry"] is True and "base_version" in result["errors"]


def test_correction_of_a_returned_record_goes_back_to_review(grid_app, tablet):
    client, token, _ = tablet
    created = create()
    push(client, token, [created])
    with grid_app.app_context():  # what a supervisor's "return for correction" leaves behind
        record = db.session.get(Record, created["record_id"])
        record.status, record.status_comment = "returned", "请补充当事人电话"
        db.session.commit()
    result = push(client, token, [update(created["record_id"], 1, {"summary": "补充后"})]).get_json()["results"][0]
    assert result["status"] == "applied"
    with grid_app.app_context():
        record = db.session.get(Record, created["record_id"])
        assert record.status == "reported"
        last = db.session.scalars(select(RecordChange).where(RecordChange.record_id == record.id)
                                  .order_by(RecordChange.version.desc())).first()
        assert last.kind == "resubmit" and last.changes["status"] == {"old": "returned", "new": "reported"}


def test_integrity_concern_is_stored_with_a_separate_confidential_payload(grid_app, tablet):
    client, token, _ = tablet
    concern = create(category="integrity", fields=integrity_fields())
    assert push(client, token, [concern]).get_json()["results"][0]["status"] == "applied"
    with grid_app.app_context():
        record = db.session.get(Record, concern["record_id"])
        assert record.urgency == "urgent"
        assert record.content == {"urgency": "urgent"}
        assert record.confidential["subject"] == "某社区主任"
        change = db.session.scalars(select(RecordChange).where(RecordChange.record_id == record.id)).one()
        assert "subject" not in change.changes and "subject" in change.confidential_changes
    edit = update(concern["record_id"], 1, {"description": "more"})
    assert "record_id" in push(client, token, [edit]).get_json()["results"][0]["errors"]


def test_health_and_clock_skew_are_stored(grid_app, tablet):
    client, token, uid = tablet
    skewed = (datetime.now(timezone.utc) + timedelta(minutes=9)).isoformat()
    response = push(client, token, [], device_time=skewed,
                    health={"outbox_depth": 7, "oldest_unsent_age_s": 5400, "failed_attachments": 1,
                            "app_version": "0.2.0"})
    assert response.status_code == 200
    assert response.get_json()["server_time"].endswith("Z") and response.headers["X-Server-Time"]
    with grid_app.app_context():
        device = db.session.scalar(select(Device).where(Device.uid == uid))
        assert (device.outbox_depth, device.oldest_unsent_age_s, device.failed_attachments, device.app_version) == (
            7, 5400, 1, "0.2.0")
        assert 530 < device.clock_skew_s < 550 and device.last_push_at is not None


@pytest.mark.parametrize("body,status,field", [
    ({"mutations": "nope"}, 422, "mutations"),
    ({}, 422, "mutations"),
    ({"mutations": [], "colour": "red"}, 422, "colour"),
    ({"mutations": [], "health": {"outbox_depth": -1}}, 422, "health"),
    ({"mutations": [{}] * 501}, 422, "mutations"),
    ({"mutations": [], "device_time": "yesterday"}, 422, "device_time"),
    ({"mutations": [], "health": {"oldest_unsent_age_s": 2**31}}, 422, "health"),  # beyond an INTEGER column
])
def test_bad_envelopes_name_the_field(tablet, body, status, field):
    client, token, _ = tablet
    response = client.post("/api/v1/sync/push", json=body, headers=auth(token))
    assert response.status_code == status
    assert field in response.get_json()["errors"]


def test_malformed_json_is_400(tablet):
    client, token, _ = tablet
    response = client.post("/api/v1/sync/push", data=b'{"mutations": [', headers={**auth(token),
                           "Content-Type": "application/json"})
    assert response.status_code == 400 and response.get_json()["code"] == "bad_request"


def test_oversize_body_is_413(grid_app, tablet):
    client, token, _ = tablet
    big = b'{"mutations": ["' + b"x" * (grid_app.config["MAX_CONTENT_LENGTH"] + 10) + b'"]}'
    response = client.post("/api/v1/sync/push", data=big, headers={**auth(token), "Content-Type": "application/json"})
    assert response.status_code == 413 and response.is_json


def test_auth_errors(grid_app, tablet):
    client, token, uid = tablet
    assert client.post("/api/v1/sync/push", json={"mutations": []}).status_code == 401
    assert push(client, "not-a-token", []).status_code == 401
    supervisor = make_user(grid_app, role="supervisor", scopes=[FIRST_COMMUNITY])
    assert push(client, user_token(grid_app, supervisor), []).status_code == 403
    grid_admin_user_token = user_token(grid_app, make_user(grid_app))
    assert push(client, grid_admin_user_token, []).status_code == 403  # sync needs a device token
    from server.devices.services import get_device, revoke_device
    with grid_app.app_context():
        revoke_device(get_device(uid))
    response = push(client, token, [create()])
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def refused_record_id(grid_app):
    """A database trigger that refuses one record id, standing in for an unexpected integrity error on insert."""
    record_id = str(uuid.uuid4())
    with grid_app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(f"CREATE TRIGGER refuse_one BEFORE INSERT ON records WHEN NEW.id = "
                                       f"'{record_id}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        else:
            connection.exec_driver_sql(
                f"CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN IF NEW.id = '{record_id}' THEN "
                f"RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END "
                f"$$ LANGUAGE plpgsql")
            connection.exec_driver_sql("CREATE TRIGGER refuse_one BEFORE INSERT ON records "
                                       "FOR EACH ROW EXECUTE FUNCTION refuse_one()")
        db.session.commit()
    yield record_id
    _drop_refusal(grid_app)


def _drop_refusal(app):
    with app.app_context():
        connection = db.session.connection()
        sqlite = connection.dialect.name == "sqlite"
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS refuse_one" + ("" if sqlite else " ON records"))
        if not sqlite:
            connection.exec_driver_sql("DROP FUNCTION IF EXISTS refuse_one()")
        db.session.commit()


def test_an_unexpected_database_error_fails_only_its_own_mutation(grid_app, tablet, refused_record_id):
    """Creates go in with one insert per table; when that fails, the push is redone item by item, so the others
    are still applied, the culprit is rejected as retryable, and nothing is half-stored or called a duplicate."""
    client, token, _ = tablet
    good, bad, later = create(), create(record_id=refused_record_id), create()
    edit = update(good["record_id"], 1, {"summary": "已调解"})
    results = push(client, token, [good, bad, edit, bad, later]).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied", "rejected", "applied"]
    assert results[1]["retry"] is True and results[3]["retry"] is True and "_" in results[1]["errors"]
    assert _stored(grid_app, [m["mutation_id"] for m in (good, edit, later)]) == 3
    assert _stored(grid_app, [bad["mutation_id"]]) == 0
    with grid_app.app_context():
        assert db.session.get(Record, refused_record_id) is None
        assert db.session.scalar(select(func.count(RecordChange.id))
                                 .where(RecordChange.record_id == refused_record_id)) == 0
        assert db.session.get(Record, good["record_id"]).version == 2


def test_a_refused_create_is_applied_when_sent_again(grid_app, tablet, refused_record_id):
    client, token, _ = tablet
    bad = create(record_id=refused_record_id)
    assert push(client, token, [bad]).get_json()["results"][0]["status"] == "rejected"
    _drop_refusal(grid_app)
    assert push(client, token, [bad]).get_json()["results"][0]["status"] == "applied"


def test_migration_0007_downgrade_puts_create_acknowledgements_back(empty_app):
    """Since 0007 a pushed create is acknowledged by its first version; downgrading copies those acknowledgements
    into sync_mutations, where the older code looks, and after upgrading again a retry is still a duplicate."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from grids import DATASET_PATH
    from server.geo.importer import import_file

    with empty_app.app_context():
        import_file(DATASET_PATH)
    client, token = empty_app.test_client(), make_device(empty_app, make_user(empty_app))[1]
    mutation = create()
    assert push(client, token, [mutation]).get_json()["results"][0]["status"] == "applied"
    assert _stored(empty_app, [mutation["mutation_id"]]) == 1
    with empty_app.app_context():
        downgrade(revision="0006_leaner_pushes")
        row = db.session.execute(text("SELECT op, status, seq, record_id, body_sha256 FROM sync_mutations "
                                      "WHERE mutation_id = :id"), {"id": mutation["mutation_id"]}).one()
        assert (row.op, row.status, row.seq, row.record_id) == ("create", "applied", mutation["seq"],
                                                               mutation["record_id"])
        assert len(row.body_sha256) == 64
        db.session.commit()
        upgrade()
    again = push(client, token, [mutation]).get_json()["results"][0]
    assert again["status"] == "duplicate" and again["original_status"] == "applied" and again["version"] == 1
    assert _stored(empty_app, [mutation["mutation_id"]]) == 1  # the old row only: the history entry lost its hash
