"""One contract suite for every repository: the in-memory fake and the real SQLite store behave the same."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from field_support import mediation
from field_app.core.memory_store import MemoryRepository
from field_app.core.models import DRAFT, REJECTED, UPLOADED, WAITING, LocalRecord
from field_app.core.store import SQLiteRepository

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc)
GRID = "420503004001001"


@pytest.fixture(params=["memory", "sqlite"])
def repo(request, tmp_path):
    store = MemoryRepository() if request.param == "memory" else SQLiteRepository(tmp_path / "store.sqlite")
    yield store
    store.close()


def new(record_id="11111111-1111-4111-8111-111111111111", **fields) -> LocalRecord:
    return LocalRecord(id=record_id, category="mediation", grid_code=GRID, fields=fields or mediation(),
                       created_at=NOW)


def ack(repo, status="applied", version=1, **extra):
    sent = repo.outbox()
    results = [{"mutation_id": m.mutation_id, "record_id": m.record_id, "status": status, "version": version,
                **extra} for m in sent]
    return repo.apply_push_results(sent, results, NOW, {"integrity"})


def test_settings_round_trip(repo):
    assert repo.get("missing", 7) == 7
    repo.put("setting:language", "en")
    repo.put_many({"a": {"x": [1, "二"]}, "b": 2})
    assert repo.get("setting:language") == "en" and repo.get("a") == {"x": [1, "二"]} and repo.get("b") == 2
    repo.put("b", None)
    assert repo.get("b") is None


def test_draft_then_submit_queues_a_create_with_all_fields(repo):
    saved = repo.save_draft(new(), NOW)
    assert saved.state == DRAFT and repo.outbox() == []
    queued = repo.submit(new(), NOW + timedelta(seconds=1), offset_s=-2.0)
    assert queued.state == WAITING
    [item] = repo.outbox()
    body = json.loads(item.body)
    assert body["op"] == "create" and body["fields"] == mediation() and body["seq"] == item.seq
    assert body["device_time"] == "2026-11-27T06:00:01.000Z" and body["server_time_est"] == "2026-11-27T05:59:59.000Z"
    assert set(body) == {"mutation_id", "seq", "record_id", "op", "category", "grid_code", "device_time",
                         "server_time_est", "fields"}


def test_seq_increases_and_never_repeats(repo):
    for n in range(5):
        repo.submit(new(f"00000000-0000-4000-8000-00000000000{n}"), NOW)
    seqs = [m.seq for m in repo.outbox()]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    ack(repo)
    repo.submit(new("00000000-0000-4000-8000-000000000009"), NOW)
    assert repo.outbox()[0].seq > max(seqs)


def test_ack_removes_the_mutation_and_keeps_the_version(repo):
    repo.submit(new(), NOW)
    outcomes, purge = ack(repo)
    assert [o.outcome for o in outcomes] == ["applied"] and purge == []
    record = repo.get_record(new().id)
    assert record.state == UPLOADED and record.server_version == 1 and repo.outbox() == []


def test_retry_rejection_keeps_the_body_and_permanent_rejection_marks_the_record(repo):
    repo.submit(new(), NOW)
    before = repo.outbox()[0].body
    ack(repo, status="rejected", retry=True, message="later")
    assert repo.outbox()[0].body == before and repo.get_record(new().id).state == WAITING
    ack(repo, status="rejected", retry=False, message="bad", errors={"fields": {"summary": ["x"]}})
    record = repo.get_record(new().id)
    assert record.state == REJECTED and record.errors == {"fields": {"summary": ["x"]}}
    assert repo.outbox() == [] and len(repo.outbox_items()) == 1        # kept, but not sent again


def test_update_sends_only_changed_fields_on_the_last_server_version(repo):
    repo.submit(new(), NOW)
    ack(repo, version=3)
    record = repo.get_record(new().id)
    record.fields["outcome"] = "agreement"
    record.fields["note"] = "补充"
    repo.submit(record, NOW)
    body = json.loads(repo.outbox()[0].body)
    assert body["op"] == "update" and body["base_version"] == 3
    assert body["fields"] == {"note": "补充", "outcome": "agreement"}
    assert repo.get_record(new().id).state == WAITING
    repo.submit(repo.get_record(new().id), NOW)                       # nothing changed: nothing queued
    assert len(repo.outbox()) == 1


def test_a_failing_transaction_leaves_nothing_behind(repo):
    repo.submit(new(), NOW)
    repo.submit(new("77777777-7777-4777-8777-777777777777"), NOW)
    before = (repo.outbox_items(), repo.list_records())
    sent = repo.outbox()
    results = [{"mutation_id": sent[0].mutation_id, "record_id": sent[0].record_id, "status": "applied",
                "version": 1},
               {"mutation_id": sent[1].mutation_id, "record_id": sent[1].record_id, "status": "rejected",
                "retry": False, "message": "bad", "errors": {}}]

    class Boom(Exception):
        pass

    def explode(*args, **kwargs):
        raise Boom()

    repo._ob_update = explode          # dies while storing the second answer, after the first was stored
    with pytest.raises(Boom):
        repo.apply_push_results(sent, results, NOW, set())
    del repo._ob_update
    assert (repo.outbox_items(), repo.list_records()) == before


def test_pull_keeps_unpushed_fields_and_takes_the_rest(repo):
    repo.submit(new(), NOW)
    ack(repo)
    record = repo.get_record(new().id)
    record.fields["summary"] = "本地修改"
    repo.submit(record, NOW)
    snapshot = {"id": record.id, "category": "mediation", "grid_code": GRID, "version": 2, "status": "accepted",
                "status_comment": "已受理", "updated_at": "2026-11-27T07:00:00.000Z", "conflicts": [],
                "fields": {**mediation(summary="服务器修改"), "outcome": "agreement"}}
    repo.apply_pull_page([snapshot], "c1", NOW, {"integrity"})
    local = repo.get_record(record.id)
    assert local.fields["summary"] == "本地修改" and local.fields["outcome"] == "agreement"
    assert local.status == "accepted" and local.server_version == 2 and repo.get("cursor") == "c1"


def test_a_page_naming_a_record_twice_judges_the_second_snapshot_by_the_first(repo):
    """Pages are read ahead in one go; a record that comes twice must be judged against what the first snapshot made
    of it: here the second is older and must change nothing, for a known record and for one new to the tablet."""
    repo.submit(new(), NOW)
    ack(repo)
    record = repo.get_record(new().id)
    record.fields["summary"] = "本地修改"
    repo.submit(record, NOW)                                             # unpushed: no snapshot may overwrite it
    newer, older = ({"id": record.id, "category": "mediation", "grid_code": GRID, "version": version,
                     "status": status, "status_comment": None, "updated_at": "2026-11-27T07:00:00.000Z",
                     "conflicts": [], "fields": {**mediation(summary="服务器修改"), "outcome": outcome}}
                    for version, status, outcome in ((3, "dispatched", "agreement"), (2, "accepted", "no_agreement")))
    unknown_v2 = {"id": "55555555-5555-4555-8555-555555555555", "category": "mediation", "grid_code": GRID,
                  "version": 2, "status": "accepted", "status_comment": None,
                  "updated_at": "2026-11-27T07:00:00.000Z", "fields": mediation(summary="又改了"), "conflicts": []}
    unknown_v1 = {**unknown_v2, "version": 1, "status": "reported", "fields": mediation(summary="新的")}
    repo.apply_pull_page([newer, unknown_v2, older, unknown_v1], "c3", NOW, {"integrity"})
    local = repo.get_record(record.id)
    assert local.fields["summary"] == "本地修改" and local.fields["outcome"] == "agreement"
    assert (local.status, local.server_version) == ("dispatched", 3)
    assert [m.record_id for m in repo.outbox()] == [record.id]        # the unpushed edit is still due
    added = repo.get_record(unknown_v2["id"])
    assert (added.fields["summary"], added.status, added.server_version) == ("又改了", "accepted", 2)


def test_unknown_records_from_a_pull_are_added_and_receipts_are_not_listed(repo):
    snapshots = [
        {"id": "22222222-2222-4222-8222-222222222222", "category": "mediation", "grid_code": GRID, "version": 4,
         "status": "returned", "status_comment": "请补充", "updated_at": "2026-11-27T07:00:00.000Z",
         "fields": mediation(), "conflicts": []},
        {"id": "33333333-3333-4333-8333-333333333333", "category": "integrity", "grid_code": GRID, "version": 1,
         "status": "reported", "status_comment": None, "updated_at": "2026-11-27T07:00:00.000Z", "receipt": True}]
    repo.apply_pull_page(snapshots, "c2", NOW, {"integrity"})
    assert [(r.id, r.state) for r in repo.list_records()] == [(snapshots[0]["id"], "returned")]
    assert [r["id"] for r in repo.receipts()] == [snapshots[1]["id"]]
    assert repo.list_records(states=["uploaded"]) == []


def test_confidential_create_acknowledged_becomes_a_receipt(repo, tmp_path):
    photo = tmp_path / "e.jpg"
    photo.write_bytes(b"x")
    repo.add_attachment("a" * 64, str(photo), 1, "image/jpeg")
    record = LocalRecord(id="44444444-4444-4444-8444-444444444444", category="integrity", grid_code=GRID,
                         fields={"subject": "某人", "evidence": ["a" * 64]}, created_at=NOW)
    repo.submit(record, NOW, photo_shas=["a" * 64])
    assert repo.attachment("a" * 64).state == "pending"
    ack(repo)
    assert repo.list_records() == [] and repo.get_record(record.id).fields == {}
    assert repo.attachment("a" * 64).purge                             # deleted once the server has it
    assert [r["id"] for r in repo.receipts()] == [record.id]


def test_confidential_create_without_photos_becomes_a_receipt_too(repo):
    """The plain acknowledgement of a record with nothing else pending still turns a confidential one into a
    receipt: the bulk path must not take it."""
    record = LocalRecord(id="66666666-6666-4666-8666-666666666666", category="integrity", grid_code=GRID,
                         fields={"subject": "某人", "description": "违规办理低保"}, created_at=NOW)
    repo.submit(record, NOW)
    assert [r.outcome for r in ack(repo)[0]] == ["applied"]
    assert repo.list_records() == [] and repo.get_record(record.id).fields == {}
    assert [r["id"] for r in repo.receipts()] == [record.id]


def test_attachments_progress(repo):
    repo.add_attachment("b" * 64, "/p", 10, "image/jpeg")
    assert repo.pending_attachments() == []                            # only submitted records' photos are due
    repo.submit(new(photos=["b" * 64], **mediation()), NOW, photo_shas=["b" * 64])
    assert [a.sha for a in repo.pending_attachments()] == ["b" * 64]
    repo.update_attachment("b" * 64, uploaded_bytes=4, attempt=True, last_error="net")
    att = repo.attachment("b" * 64)
    assert (att.uploaded_bytes, att.attempts, att.last_error) == (4, 1, "net")
    repo.update_attachment("b" * 64, state="failed")
    assert repo.failed_attachments() == 1 and repo.pending_attachments() == []


def test_outbox_stats_and_records_newest_first(repo):
    for n in range(3):
        repo.submit(LocalRecord(id=f"55555555-5555-4555-8555-55555555555{n}", category="mediation", grid_code=GRID,
                                fields=mediation(), created_at=NOW + timedelta(minutes=n)), NOW + timedelta(minutes=n))
    assert repo.outbox_stats(NOW + timedelta(minutes=10)) == (3, 600)
    assert [r.id[-1] for r in repo.list_records()] == ["2", "1", "0"]


def test_concurrent_submits_from_threads_are_all_kept(repo):
    def work(t):
        for n in range(20):
            repo.submit(new(f"66666666-6666-4666-8666-6666666{t:02d}{n:03d}"), NOW)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(repo.outbox()) == 80 and len({m.seq for m in repo.outbox(limit=500)}) == 80


def test_sqlite_store_is_wal_full_sync_migrated_and_survives_reopening(tmp_path):
    path = tmp_path / "store.sqlite"
    store = SQLiteRepository(path)
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2          # FULL
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == 1
    store.submit(new(), NOW)
    store.close()                                  # no clean shutdown needed: every submit was committed
    again = SQLiteRepository(path)
    assert [json.loads(m.body)["record_id"] for m in again.outbox()] == [new().id]
    again.close()


def test_sqlite_acknowledges_unedited_records_in_bulk_and_edited_ones_one_by_one(tmp_path):
    """The bulk path recognises "nothing edited since the submit" by the stored text; an edit sends that record
    down the general path, and both end the same as in every other repository."""
    store = SQLiteRepository(tmp_path / "store.sqlite")
    try:
        plain, edited = new("77777777-7777-4777-8777-777777777777"), new("88888888-8888-4888-8888-888888888888")
        store.submit(plain, NOW)
        store.submit(edited, NOW)
        store.save_draft(new(edited.id, **{**mediation(), "summary": "又改了"}), NOW + timedelta(seconds=5))
        bulk = []
        store._db.set_trace_callback(lambda sql: bulk.append(sql) if "state = 'uploaded'" in sql else None)
        sent = [item for item in store.outbox()]
        results = [{"mutation_id": m.mutation_id, "record_id": m.record_id, "status": "applied", "version": 1}
                   for m in sent]
        store.apply_push_results(sent, results, NOW, {"integrity"})
        store._db.set_trace_callback(None)
        assert len(bulk) == 1 and plain.id in bulk[0]  # one row through the bulk UPDATE: the unedited record
        assert store.get_record(plain.id).state == UPLOADED
        assert store.get_record(edited.id).state == DRAFT and store.get_record(edited.id).fields["summary"] == "又改了"
    finally:
        store.close()
