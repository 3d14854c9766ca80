"""Sync under faults: concurrent duplicate pushes, a server killed mid-push, random delivery orders."""
from __future__ import annotations

import random
import threading
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from factories import auth, make_device, make_user
from grids import DATASET_PATH
from live_server import ServerProcess, ThreadedServer
from server.extensions import db
from server.geo.importer import import_file
from server.records.models import Record, RecordChange, RecordConflict
from sync_support import create, mediation_fields, push, stored_receipts, update


def _count(app, model, column, ids) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(column.in_(ids)))


def test_two_threads_pushing_the_same_batch_store_it_once(grid_app):
    grid = "420504001001001"
    token = make_device(grid_app, make_user(grid_app, scopes=[grid]))[1]
    batch = [create(grid_code=grid) for _ in range(60)]
    barrier = threading.Barrier(2)
    answers = []

    def send():
        barrier.wait()
        answers.append(requests.post(server.url + "/api/v1/sync/push", json={"mutations": batch},
                                     headers=auth(token), timeout=60).json()["results"])

    with ThreadedServer(grid_app) as server:
        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(answers) == 2
    for first, second in zip(*answers):
        assert sorted([first["status"], second["status"]]) == ["applied", "duplicate"]
    ids = [m["mutation_id"] for m in batch]
    assert len(stored_receipts(grid_app, ids)) == 60
    record_ids = [m["record_id"] for m in batch]
    assert _count(grid_app, Record, Record.id, record_ids) == 60
    assert _count(grid_app, RecordChange, RecordChange.record_id, record_ids) == 60


def test_concurrent_edits_from_two_tablets_keep_every_value(grid_app):
    grid = "420504001001002"
    username = make_user(grid_app, scopes=[grid])
    tokens = [make_device(grid_app, username)[1] for _ in range(2)]
    made = create(grid_code=grid)
    push(grid_app.test_client(), tokens[0], [made])
    edits = [[update(made["record_id"], 1, {"summary": f"tablet {t} edit {n}"}) for n in range(10)] for t in range(2)]
    barrier = threading.Barrier(2)

    def send(token, mutations):
        barrier.wait()
        for mutation in mutations:  # one push each, interleaving with the other tablet
            requests.post(server.url + "/api/v1/sync/push", json={"mutations": [mutation]},
                          headers=auth(token), timeout=60).raise_for_status()

    with ThreadedServer(grid_app) as server:
        threads = [threading.Thread(target=send, args=(tokens[t], edits[t])) for t in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    with grid_app.app_context():
        history = db.session.scalars(select(RecordChange).where(RecordChange.record_id == made["record_id"])
                                     .order_by(RecordChange.version)).all()
        assert [c.version for c in history] == list(range(1, 22))
        written = {c.changes["summary"]["new"] for c in history[1:]}
        assert written == {m["fields"]["summary"] for t in edits for m in t}
        conflicts = db.session.scalars(select(RecordConflict).where(RecordConflict.record_id == made["record_id"]))
        record = db.session.get(Record, made["record_id"])
        assert record.open_conflicts == len(list(conflicts)) > 0


@pytest.fixture
def killable(make_app, tmp_path):
    app = make_app()
    with app.app_context():
        import_file(DATASET_PATH)
    grid = "420504001001003"
    token = make_device(app, make_user(app, scopes=[grid]))[1]
    server = ServerProcess(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path / "instance"))
    yield app, server, token, grid
    server.kill()


def _server_holds_write_lock(database_url: str) -> bool:
    """True while some other process is inside a sync write transaction (holds the change-log write lock)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        import sqlite3

        connection = sqlite3.connect(url.database, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            connection.close()
    import psycopg

    from server.sync.changelog import WRITE_LOCK_KEY

    with psycopg.connect(host=url.query["host"], port=url.query["port"], user=url.username, dbname=url.database,
                         autocommit=True) as connection:
        got = connection.execute("SELECT pg_try_advisory_lock(%s)", (WRITE_LOCK_KEY,)).fetchone()[0]
        if got:
            connection.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK_KEY,))
        return not got


def _kill_inside_the_transaction(server, database_url: str) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _server_holds_write_lock(database_url):
            server.kill()
            return True
        time.sleep(0.002)
    server.kill()
    return False


def _assert_all_or_nothing(app, ids, record_ids) -> int:
    stored = len(stored_receipts(app, ids))
    assert stored in (0, len(ids)), f"partial batch after a crash: {stored}"
    assert _count(app, Record, Record.id, record_ids) == stored
    assert _count(app, RecordChange, RecordChange.record_id, record_ids) == stored
    return stored


def test_a_server_killed_mid_push_keeps_all_or_nothing_and_the_retry_completes(killable):
    app, server, token, grid = killable
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    batch = [create(grid_code=grid, fields=mediation_fields(summary="x" * 3000)) for _ in range(500)]
    ids, record_ids = [m["mutation_id"] for m in batch], [m["record_id"] for m in batch]

    # Killed while it provably holds the write lock, i.e. in the middle of writing the batch.
    server.start()
    sender = threading.Thread(target=lambda: _post_ignoring_errors(server.url, token, batch))
    sender.start()
    assert _kill_inside_the_transaction(server, url), "the push never took the write lock"
    sender.join()
    assert _assert_all_or_nothing(app, ids, record_ids) == 0

    # Killed at random moments: whatever the moment, all or nothing.
    rng = random.Random(11)
    for _ in range(2):
        server.start()
        sender = threading.Thread(target=lambda: _post_ignoring_errors(server.url, token, batch))
        sender.start()
        time.sleep(rng.uniform(0.0, 0.8))
        server.kill()
        sender.join()
        _assert_all_or_nothing(app, ids, record_ids)

    server.start()
    results = requests.post(server.url + "/api/v1/sync/push", json={"mutations": batch}, headers=auth(token),
                            timeout=120).json()["results"]
    server.kill()
    assert {r["status"] for r in results} <= {"applied", "duplicate"}
    assert len(stored_receipts(app, ids)) == 500
    assert _count(app, Record, Record.id, record_ids) == 500


def _post_ignoring_errors(url, token, batch):
    try:
        requests.post(url + "/api/v1/sync/push", json={"mutations": batch}, headers=auth(token), timeout=60)
    except requests.RequestException:
        pass  # the connection dies with the server: exactly the situation under test


# --- property: random delivery converges -----------------------------------------------------------------------

class Tablet:
    """A minimal model of the field app's outbox discipline, enough to drive the protocol."""

    def __init__(self, name: str, token: str):
        self.name, self.token = name, token
        self.outbox: list[dict] = []
        self.known_version: dict[str, int] = {}

    def acknowledge(self, results: list[dict]) -> None:
        for result in results:
            assert not (result["status"] == "rejected" and not result.get("retry")), result
            if result["status"] == "rejected":
                continue  # keep it: it depends on something the server has not seen yet
            self.outbox = [m for m in self.outbox if m["mutation_id"] != result["mutation_id"]]
            rid = result["record_id"]
            self.known_version[rid] = max(self.known_version.get(rid, 0), result["version"])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_pushes_with_retries_reorders_and_lost_answers_converge(grid_app, data):
    grid = "420504001001004"
    username = make_user(grid_app, scopes=[grid])
    tablets = [Tablet(name, make_device(grid_app, username)[1]) for name in "AB"]
    client = grid_app.test_client()
    made: list[dict] = []
    records: list[str] = []
    counter = 0
    for _ in range(data.draw(st.integers(5, 25), label="steps")):
        tablet = data.draw(st.sampled_from(tablets))
        action = data.draw(st.sampled_from(["create", "edit", "edit", "sync", "sync"]))
        if action == "create" or (action == "edit" and not records):
            mutation = create(grid_code=grid)
            records.append(mutation["record_id"])
            tablet.known_version[mutation["record_id"]] = 1
        elif action == "edit":
            rid = data.draw(st.sampled_from(records))
            counter += 1
            fields = {"summary": f"{tablet.name}-{counter}"}
            if data.draw(st.booleans()):
                fields["outcome"] = data.draw(st.sampled_from(["agreement", "failed", "referred"]))
            mutation = update(rid, tablet.known_version.get(rid, 1), fields)
        else:
            if tablet.outbox:
                batch = data.draw(st.lists(st.sampled_from(tablet.outbox), min_size=1, max_size=8))
                results = push(client, tablet.token, batch).get_json()["results"]
                if not data.draw(st.booleans(), label="answer lost"):
                    tablet.acknowledge(results)
            continue
        tablet.outbox.append(mutation)
        made.append(mutation)
    for _ in range(10):  # every tablet eventually syncs in order until its outbox is empty
        for tablet in tablets:
            if tablet.outbox:
                tablet.acknowledge(push(client, tablet.token, list(tablet.outbox)).get_json()["results"])
    assert all(not tablet.outbox for tablet in tablets)

    with grid_app.app_context():
        stored = stored_receipts(grid_app, [m["mutation_id"] for m in made])
        assert sorted(stored) == sorted(m["mutation_id"] for m in made)  # each applied exactly once
        for rid in records:
            history = db.session.scalars(select(RecordChange).where(RecordChange.record_id == rid)
                                         .order_by(RecordChange.version)).all()
            updates = [m for m in made if m["record_id"] == rid and m["op"] == "update"]
            assert [c.version for c in history] == list(range(1, len(updates) + 2))
            by_mutation = {c.mutation_id: c for c in history}
            for mutation in updates:  # no edit lost: every value written is in the history
                change = by_mutation[mutation["mutation_id"]]
                assert change.changes["summary"]["new"] == mutation["fields"]["summary"]
            conflicts = db.session.scalars(select(RecordConflict).where(RecordConflict.record_id == rid)).all()
            assert {c.mutation_id for c in conflicts} == {c.mutation_id for c in history if c.kind == "conflict"}
