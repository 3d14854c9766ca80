"""The core against a REAL server (both database backends): enrollment, offline records, sync, photos, and a flaky
network (a TCP proxy that drops answers or stalls), and a server killed and restarted mid-batch."""
from __future__ import annotations

import hashlib
import os

import pytest
from sqlalchemy import func, select

from field_support import enroll_core, integrity, mediation
from field_app.core.models import UPLOADED, WAITING
from live_server import ThreadedServer
from server.extensions import db
from server.records.models import Record


def server_count(app, ids) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Record).where(Record.id.in_(list(ids))))


@pytest.fixture
def live(grid_app):
    with ThreadedServer(grid_app) as server:
        yield server


def test_enroll_download_record_offline_then_sync(grid_app, live, fresh_grid, tmp_path, clock):
    core = enroll_core(grid_app, live.url, tmp_path / "tablet", fresh_grid, clock=clock)
    assert core.is_enrolled() and core.my_grids() == [fresh_grid]
    assert {c.key for c in core.categories()} >= {"mediation", "labor_service", "integrity", "visit_round"}
    features = core.grid_features()["features"]
    assert [f["properties"]["code"] for f in features] == [fresh_grid]
    record = core.new_record("mediation")
    record.fields = mediation()
    saved = core.submit(record)
    assert saved.state == WAITING and core.health().outbox_depth == 1

    report = core.sync()
    assert report.ok, report
    assert report.pushed == 1
    assert core.record(record.id).state == UPLOADED and core.record(record.id).server_version == 1
    assert core.health().outbox_depth == 0
    assert server_count(grid_app, [record.id]) == 1
    core.close()


@pytest.fixture
def proxy(live):
    from field_proxy import FlakyProxy

    port = int(live.url.rsplit(":", 1)[1])
    flaky = FlakyProxy(port)
    yield flaky
    flaky.close()


def quick_transport(clock, timeout=(2, 5)):
    from field_app.core.transport import RequestsTransport

    return lambda url, token: RequestsTransport(url, token, timeout=timeout, clock=clock)


def test_answer_dropped_after_the_server_committed_is_resent_and_counted_once(grid_app, proxy, fresh_grid, tmp_path,
                                                                              clock):
    core = enroll_core(grid_app, proxy.url, tmp_path / "t", fresh_grid, clock=clock, sleep=lambda s: None,
                       transport_factory=quick_transport(clock))
    records = [core.submit(_filled(core, n)) for n in range(30)]
    proxy.on(b"POST /api/v1/sync/push", "drop")
    report = core.sync()
    assert proxy.done == ["drop"]
    assert report.ok, report
    assert {r.outcome for r in report.results} == {"duplicate"}       # the first send got through
    assert server_count(grid_app, [r.id for r in records]) == 30
    assert all(core.record(r.id).state == UPLOADED for r in records)
    core.close()


def test_answer_slower_than_the_timeout_is_retried_as_duplicates(grid_app, proxy, fresh_grid, tmp_path, clock):
    core = enroll_core(grid_app, proxy.url, tmp_path / "t", fresh_grid, clock=clock, sleep=lambda s: None,
                       transport_factory=quick_transport(clock, timeout=(2, 0.5)))
    records = [core.submit(_filled(core, n)) for n in range(10)]
    proxy.on(b"POST /api/v1/sync/push", ("delay", 1.5))
    report = core.sync()
    assert proxy.done == ["delay"] and report.ok, report
    assert {r.outcome for r in report.results} == {"duplicate"}
    assert server_count(grid_app, [r.id for r in records]) == 10
    core.close()


def test_timeouts_every_time_leave_the_outbox_for_later(grid_app, proxy, fresh_grid, tmp_path, clock):
    core = enroll_core(grid_app, proxy.url, tmp_path / "t", fresh_grid, clock=clock, sleep=lambda s: None,
                       transport_factory=quick_transport(clock, timeout=(2, 0.3)))
    records = [core.submit(_filled(core, n)) for n in range(3)]
    for _ in range(3):
        proxy.on(b"POST /api/v1/sync/push", ("delay", 0.8))
    report = core.sync()
    assert not report.ok and report.error_kind == "timeout" and "不会丢失" in report.error
    assert core.health().outbox_depth == 3
    report = core.sync()
    assert report.ok and server_count(grid_app, [r.id for r in records]) == 3
    core.close()


def test_photo_uploaded_in_chunks_and_resumed_after_a_dropped_answer(grid_app, proxy, fresh_grid, tmp_path, clock):
    import requests

    core = enroll_core(grid_app, proxy.url, tmp_path / "t", fresh_grid, clock=clock, sleep=lambda s: None,
                       transport_factory=quick_transport(clock))
    photo = tmp_path / "door.jpg"
    photo.write_bytes(os.urandom(700_000))                           # three chunks of 256 KiB
    record = _filled(core, 1)
    sha = core.attach_photo(record, photo)
    assert sha == hashlib.sha256(photo.read_bytes()).hexdigest()
    core.submit(record)
    # the answer to the second chunk is lost: the server holds it, the tablet resumes from the server's offset
    puts = {"n": 0}
    original = proxy._take

    def second_put_dropped(data):
        if data.startswith(b"PUT /api/v1/attachments/"):
            puts["n"] += 1
            if puts["n"] == 2:
                return "drop"
        return original(data)

    proxy._take = second_put_dropped
    report = core.sync()
    assert report.ok, report
    assert proxy.done == ["drop"]
    head = requests.head(f"{proxy.url}/api/v1/attachments/{sha}",
                         headers={"Authorization": f"Bearer {core.enrollment().token}"}, timeout=5)
    assert head.headers["Attachment-Complete"] == "1" and head.headers["Upload-Offset"] == "700000"
    assert core.record(record.id).state == UPLOADED and core.record(record.id).photos_pending == 0
    core.close()


def test_confidential_concern_is_a_receipt_after_upload(grid_app, live, fresh_grid, tmp_path, clock):
    core = enroll_core(grid_app, live.url, tmp_path / "t", fresh_grid, clock=clock)
    record = core.new_record("integrity")
    record.fields = integrity()
    core.submit(record)
    assert core.sync().ok
    assert core.records() == [] and [r["id"] for r in core.receipts()] == [record.id]
    assert core.record(record.id).fields == {}
    core.close()
    # secure_delete: once the WAL is checkpointed (on close), no page of the file still holds the content
    raw = b"".join(p.read_bytes() for p in (tmp_path / "t").glob("store.sqlite*"))
    assert "为亲属违规办理低保".encode() not in raw and "某社区主任".encode() not in raw


def test_server_killed_mid_batch_then_restarted(grid_app, fresh_grid, tmp_path, clock):
    import threading

    from live_server import ServerProcess

    server = ServerProcess(grid_app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path / "instance")).start()
    try:
        core = enroll_core(grid_app, server.url, tmp_path / "t", fresh_grid, clock=clock, sleep=lambda s: None,
                           transport_factory=quick_transport(clock, timeout=(2, 30)))
        records = [core.submit(_filled(core, n, long=True)) for n in range(600)]
        killer = []

        def kill_during_second_batch(done, total, phase):
            if phase == "push" and done == 200 and not killer:
                killer.append(threading.Timer(0.02, server.kill))   # while the second batch is in flight
                killer[0].start()

        report = core.sync(progress=kill_during_second_batch)
        killer[0].join()
        # Whenever the kill landed (usually inside the second batch), what the tablet still holds is exactly what
        # the server did not acknowledge, and the next sync completes without loss or copies.
        assert report.ok or report.error_kind == "network", report
        assert 600 - core.health().outbox_depth >= 200
        server.start()
        report = core.sync()
        assert report.ok, report
        assert core.health().outbox_depth == 0
        ids = [r.id for r in records]
        assert server_count(grid_app, ids) == 600
        assert all(core.record(i).state == UPLOADED for i in ids)
        core.close()
    finally:
        server.kill()


def _filled(core, n, long=False):
    record = core.new_record("mediation")
    record.fields = mediation(summary=("纠纷概要%d " % n) * (100 if long else 1))
    return record
