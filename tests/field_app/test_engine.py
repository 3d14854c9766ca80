"""The sync engine with a fake transport (and, for bad answers, the real requests transport against a scripted
HTTP server): ordering, per-item results, back-off, cancel, auth, bad answers, merges, returns, conflicts,
confidential receipts, and a crash between the server's answer and its persistence."""
from __future__ import annotations

import http.server
import json
import threading

import pytest

from field_support import integrity, mediation
from field_fakes import FakeTransport
from field_app.core.app import FieldCore
from field_app.core.engine import SyncEngine
from field_app.core.errors import CoreError
from field_app.core.memory_store import MemoryRepository
from field_app.core.models import CONFLICT, REJECTED, RETURNED, UPLOADED, WAITING, SyncReport
from field_app.core.transport import RequestsTransport

GRID = "420503004001001"


@pytest.fixture(params=["memory", "sqlite"])
def make_core(request, tmp_path, clock, served_categories):
    cores = []

    def make(fake: FakeTransport | None = None, folder="tablet"):
        fake = fake or FakeTransport(served_categories, grids={GRID: {"type": "Feature", "geometry": {
            "type": "Polygon", "coordinates": [[[111.0, 30.0], [112.0, 30.0], [112.0, 31.0], [111.0, 30.0]]]},
            "properties": {"code": GRID}}})
        sleeps: list[float] = []
        repo = MemoryRepository() if request.param == "memory" else None
        core = FieldCore(tmp_path / folder, transport_factory=lambda url, token: fake, clock=clock,
                         sleep=sleeps.append, repository=repo)
        core.enroll("http://fake", "CODE")
        fake.calls.clear()
        core.fake, core.sleeps = fake, sleeps
        cores.append(core)
        return core

    yield make
    for core in cores:
        core.close()


def submit(core, fields=None, category="mediation"):
    record = core.new_record(category)
    record.fields = fields or mediation()
    return core.submit(record)


def pushed_mutations(fake):
    return [m for body in fake.pushed_bodies for m in json.loads(body)["mutations"]]


def test_push_then_pull_in_seq_order_and_batches(make_core):
    core = make_core()
    records = [submit(core, mediation(summary=f"第{n}件")) for n in range(450)]
    report = core.sync()
    assert report.ok and report.pushed == 450
    assert core.fake.calls == ["push", "push", "push", "pull"]
    sent = pushed_mutations(core.fake)
    assert [m["record_id"] for m in sent] == [r.id for r in records]
    assert [m["seq"] for m in sent] == sorted(m["seq"] for m in sent)
    assert [len(json.loads(b)["mutations"]) for b in core.fake.pushed_bodies] == [200, 200, 50]
    assert all(core.record(r.id).state == UPLOADED for r in records)
    assert core.health().outbox_depth == 0


def test_envelope_carries_device_time_health_and_server_time_estimate(make_core, clock):
    core = make_core()
    core.repo.put("clock_offset_s", -2.0)
    submit(core)
    core.sync()
    envelope = json.loads(core.fake.pushed_bodies[0])
    assert set(envelope["health"]) == {"outbox_depth", "oldest_unsent_age_s", "failed_attachments", "app_version"}
    assert envelope["health"]["outbox_depth"] == 1 and envelope["device_time"].endswith("Z")
    mutation = envelope["mutations"][0]
    assert mutation["device_time"] > mutation["server_time_est"]


def test_per_item_results_one_bad_item_does_not_stop_the_batch(make_core):
    core = make_core()
    good = submit(core)
    bad = submit(core)
    core.fake.reject[bad.id] = {"status": "rejected", "message": "Some fields are invalid.",
                                "errors": {"fields": {"outcome": ["Must be one of: ..."]}}, "retry": False}
    report = core.sync()
    assert report.ok
    outcomes = {r.record_id: r.outcome for r in report.results}
    assert outcomes == {good.id: "applied", bad.id: "rejected"}
    assert core.record(good.id).state == UPLOADED
    rejected = core.record(bad.id)
    assert rejected.state == REJECTED and rejected.errors == {"fields": {"outcome": ["Must be one of: ..."]}}
    assert any("退回" in w for w in core.warnings())
    # a failed mutation is not resent; the user's fix goes out as one new create with all fields
    core.fake.pushed_bodies.clear()
    core.sync()
    assert pushed_mutations(core.fake) == []
    del core.fake.reject[bad.id]
    rejected.fields["summary"] = "改正后的概要"
    core.submit(rejected)
    assert core.sync().ok
    resent = pushed_mutations(core.fake)
    assert len(resent) == 1 and resent[0]["op"] == "create" and resent[0]["fields"]["summary"] == "改正后的概要"
    assert core.record(bad.id).state == UPLOADED and core.record(bad.id).errors == {}


def test_update_waits_for_its_create_and_carries_only_changed_fields(make_core):
    core = make_core()
    record = submit(core)
    core.sync()
    record = core.record(record.id)
    record.fields["outcome"] = "agreement"
    record.fields["agreement_text"] = "双方各承担一半"
    core.submit(record)
    core.sync()
    update = pushed_mutations(core.fake)[-1]
    assert update["op"] == "update" and update["base_version"] == 1
    assert update["fields"] == {"agreement_text": "双方各承担一半", "outcome": "agreement"}
    assert core.record(record.id).server_version == 2


def test_edit_of_a_never_sent_create_rewrites_it_and_a_sent_one_gets_an_update(make_core):
    core = make_core()
    record = submit(core)
    record.fields["summary"] = "再次修改"
    core.submit(record)
    assert len(core.repo.outbox_items()) == 1          # never sent: rebuilt in place
    core.fake.fail("push", CoreError("timeout"), times=3)
    assert not core.sync().ok                           # now it was sent (maybe received): bodies are frozen
    record.fields["summary"] = "第三次修改"
    core.submit(record)
    items = core.repo.outbox_items()
    assert [i.op for i in items] == ["create", "update"]
    assert json.loads(items[1].body)["base_version"] == 1
    assert core.sync().ok
    assert core.fake.records[record.id]["fields"]["summary"] == "第三次修改"


def test_backoff_then_success(make_core):
    core = make_core()
    submit(core)
    core.fake.fail("push", CoreError("timeout"), times=2)
    report = core.sync()
    assert report.ok and core.sleeps == [0.5, 1.0]
    assert core.fake.calls == ["push", "push", "push", "pull"]


@pytest.mark.parametrize("kind", ["network", "timeout", "server"])
def test_retries_exhausted_leave_the_outbox_intact_with_a_plain_message(make_core, kind):
    core = make_core()
    record = submit(core)
    before = core.repo.outbox_items()
    core.fake.fail("push", CoreError(kind), times=3)
    report = core.sync()
    assert not report.ok and report.error_kind == kind and "记录已保存在平板上" in report.error
    assert core.sleeps == [0.5, 1.0] and "pull" not in core.fake.calls
    after = core.repo.outbox_items()
    assert [i.body for i in after] == [i.body for i in before]
    assert core.record(record.id).state == WAITING
    assert core.health().last_error == report.error


def test_auth_error_stops_at_once(make_core):
    core = make_core()
    submit(core)
    core.fake.fail("push", CoreError("auth", status=401))
    report = core.sync()
    assert report.error_kind == "auth" and core.sleeps == [] and core.fake.calls == ["push"]
    assert core.health().outbox_depth == 1


def test_cancel_between_batches(make_core):
    core = make_core()
    for n in range(300):
        submit(core, mediation(summary=str(n)))
    seen = []
    report = core.sync(progress=lambda done, total, phase: seen.append((done, total, phase)),
                       cancelled=lambda: len(core.fake.pushed_bodies) >= 1)
    assert report.error_kind == "cancelled" and not report.ok
    assert core.fake.calls == ["push"] and core.health().outbox_depth == 100
    assert (200, 300, "push") in seen
    assert core.sync().ok and core.health().outbox_depth == 0


def test_a_second_concurrent_sync_is_refused_as_busy(make_core):
    core = make_core()
    submit(core)
    inside, release = threading.Event(), threading.Event()
    results = []

    def slow_progress(done, total, phase):
        inside.set()
        release.wait(5)

    worker = threading.Thread(target=lambda: results.append(core.sync(progress=slow_progress)))
    worker.start()
    inside.wait(5)
    second = core.sync()
    release.set()
    worker.join()
    assert second == SyncReport(ok=False, error="正在同步，请稍候。", error_kind="busy")
    assert results[0].ok


def test_pull_never_overwrites_fields_changed_on_the_tablet_and_not_pushed(make_core):
    core = make_core()
    record = submit(core)
    core.sync()
    record = core.record(record.id)
    record.fields["summary"] = "平板上的修改"            # queued, not yet pushed
    core.submit(record)
    draft = core.record(record.id)
    draft.fields["note"] = "草稿里的备注"                  # saved as a draft only
    core.save_draft(draft)
    core.fake.server_edit(record.id, fields={"summary": "服务器的修改", "outcome": "agreement",
                                             "note": "服务器备注"}, status="accepted")
    engine = SyncEngine(core.repo, core.fake, core.clock)
    engine.pull(SyncReport(ok=True), lambda *a: None, lambda: False)
    local = core.record(record.id)
    assert local.fields["summary"] == "平板上的修改" and local.fields["note"] == "草稿里的备注"
    assert local.fields["outcome"] == "agreement" and local.status == "accepted" and local.server_version == 2
    # the pending update still goes out unchanged, with its base version
    assert core.submit(local)
    assert core.sync().ok
    sent = pushed_mutations(core.fake)[-2:]
    assert sent[0]["fields"] == {"summary": "平板上的修改"} and sent[0]["base_version"] == 1
    assert core.fake.records[record.id]["fields"]["summary"] == "平板上的修改"


def test_pull_applies_snapshots_by_version_and_ignores_older_ones(make_core):
    core = make_core()
    record = submit(core)
    core.sync()
    core.fake.server_edit(record.id, fields={"outcome": "failed"})
    core.sync()
    assert core.record(record.id).server_version == 2
    stale = {**core.fake.records[record.id], "version": 1, "fields": {**core.fake.records[record.id]["fields"],
                                                                         "outcome": "referred"},
             "updated_at": "2026-11-27T06:00:00.000Z"}
    core.repo.apply_pull_page([stale], "x", core.clock(), {"integrity"})
    assert core.record(record.id).fields["outcome"] == "failed"


def _returned_by_a_supervisor(core):
    """A record uploaded, then returned for correction by the server, as the tablet sees it after a pull."""
    record = submit(core)
    core.sync()
    core.fake.server_edit(record.id, status="returned", comment="请补充当事人电话")
    core.sync()
    return core.record(record.id)


def test_returned_record_is_shown_and_resubmitted(make_core):
    core = make_core()
    returned = _returned_by_a_supervisor(core)
    assert returned.state == RETURNED and returned.status_comment == "请补充当事人电话"
    returned.fields["parties"][1]["phone"] = "13900000000"
    assert core.submit(returned).state == WAITING
    core.sync()
    assert core.record(returned.id).state == UPLOADED and core.record(returned.id).status == "reported"


def test_conflict_is_shown(make_core):
    core = make_core()
    record = submit(core)
    core.sync()
    conflict = [{"field": "summary", "server_value": "甲", "device_value": "乙", "version": 2}]
    core.fake.server_edit(record.id, fields={"summary": "乙"}, conflicts=conflict)
    core.sync()
    local = core.record(record.id)
    assert local.state == CONFLICT and local.conflicts == conflict


def test_confidential_record_leaves_only_a_receipt(make_core, tmp_path):
    core = make_core()
    photo = tmp_path / "evidence.jpg"
    photo.write_bytes(b"\xff\xd8evidence" * 1000)
    record = core.new_record("integrity")
    record.fields = integrity()
    sha = core.attach_photo(record, photo, field="evidence")
    core.submit(record)
    assert [r.id for r in core.records()] == [record.id]
    report = core.sync()
    assert report.ok
    assert core.records() == []
    receipt = core.record(record.id)
    assert receipt.receipt and receipt.fields == {}
    assert [(r["id"], r["category"], r["server_version"]) for r in core.receipts()] == [(record.id, "integrity", 1)]
    assert set(core.receipts()[0]) >= {"id", "category", "submitted_at", "server_version"}
    assert not (core.photo_dir / sha).exists()                       # uploaded, then removed from the tablet
    assert bytes(core.fake.attachments[sha]) == photo.read_bytes()
    assert "为亲属违规办理低保" not in json.dumps([i.body for i in core.repo.outbox_items()], ensure_ascii=False)


def test_crash_after_the_server_applied_then_sync_again_gives_duplicates_not_copies(make_core, tmp_path):
    core = make_core()
    records = [submit(core, mediation(summary=str(n))) for n in range(5)]

    class Crash(Exception):
        pass

    original = core.repo.apply_push_results

    def crash(*args, **kwargs):
        raise Crash("killed between the answer and its persistence")

    core.repo.apply_push_results = crash
    with pytest.raises(Crash):
        core.sync()
    assert len(core.fake.records) == 5 and core.health().outbox_depth == 5
    core.repo.apply_push_results = original
    report = core.sync()
    assert report.ok and {r.outcome for r in report.results} == {"duplicate"}
    assert len(core.fake.records) == 5
    bodies = [json.loads(b)["mutations"] for b in core.fake.pushed_bodies]
    assert bodies[0] == bodies[1]                                   # resent byte for byte
    assert all(core.record(r.id).state == UPLOADED for r in records)


def test_dropped_answer_after_commit_resent_as_duplicates(make_core):
    core = make_core()
    record = submit(core)
    core.fake.fail("push", "after_commit")
    report = core.sync()
    assert report.ok and report.results[0].outcome == "duplicate"
    assert core.sleeps == [0.5] and len(core.fake.records) == 1
    assert core.record(record.id).state == UPLOADED


def test_photo_uploads_in_chunks_and_resumes_after_a_break(make_core, tmp_path):
    core = make_core()
    photo = tmp_path / "p.jpg"
    photo.write_bytes(bytes(range(256)) * 3000)                     # 768,000 bytes: 3 chunks of 256 KiB
    record = core.new_record("mediation")
    record.fields = mediation()
    sha = core.attach_photo(record, photo)
    assert core.record(record.id).fields["photos"] == [sha]
    core.submit(record)
    # the second chunk fails three times: the photo stays pending with its offset remembered
    original = core.fake.put_chunk
    failing = {"left": 3}

    def flaky(sha_, start, data, total, content_type):
        if start > 0 and failing["left"]:
            failing["left"] -= 1
            raise CoreError("network")
        return original(sha_, start, data, total, content_type)

    core.fake.put_chunk = flaky
    report = core.sync()
    assert report.ok and any(r.outcome == "photo_failed" for r in report.results)
    assert core.repo.attachment(sha).uploaded_bytes == 262144 and core.record(record.id).photos_pending == 1
    assert core.record(record.id).state == WAITING
    core.fake.calls.clear()
    assert core.sync().ok
    assert core.fake.calls[:3] == ["head", "put 262144", "put 524288"]
    assert bytes(core.fake.attachments[sha]) == photo.read_bytes()
    assert core.record(record.id).state == UPLOADED and core.record(record.id).photos_pending == 0


def test_categories_refetched_when_the_served_version_changes(make_core, served_categories):
    core = make_core()
    core.fake.categories_doc = {**served_categories, "version": "2-new"}
    core.fake.categories_version = "2-new"
    assert core.sync().ok
    assert "categories" in core.fake.calls and core.repo.get("categories_version") == "2-new"


def test_clock_skew_and_stale_warnings(make_core, clock):
    core = make_core()
    core.fake.clock_offset_s = -600.0
    submit(core)
    core.fake.fail("push", CoreError("network"), times=3)
    core.sync()
    clock.advance(hours=25)
    words = core.warnings()
    assert any("快约 10 分钟" in w for w in words)
    assert any("24 小时" in w for w in words)


# --- the real requests transport against bad answers ---------------------------------------------------------

class Scripted(http.server.BaseHTTPRequestHandler):
    answers: list = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def do_GET(self):
        self._answer()

    def _answer(self):
        status, content_type, body, extra = self.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-Server-Time", "2026-11-27T06:00:10.000Z")
        self.send_header("Content-Length", str(len(body) + extra))
        self.end_headers()
        self.wfile.write(body)
        if extra:
            self.wfile.flush()
            self.connection.close()

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", Scripted.answers
    server.shutdown()


HTML = b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"


@pytest.mark.parametrize("answer,kind", [
    ((200, "text/html", HTML, 0), "bad_response"),                      # a captive portal's page
    ((200, "application/json", b'{"server_time": "x", "results": [{"mutation_id', 0), "bad_response"),
    ((200, "application/json", b'{"results": "nope"}', 0), "bad_response"),
    ((502, "text/html", HTML, 0), "server"),
    ((500, "application/json", b'{"code": "internal_error", "status": 500, "message": "x", "errors": {}}', 0),
     "server"),
    ((401, "application/json", b'{"code": "unauthorized", "status": 401, "message": "x", "errors": {}}', 0), "auth"),
    ((200, "application/json", b'{"results": []}', 100), "network"),     # connection closed mid-body
])
def test_bad_answers_leave_the_outbox_intact_with_a_plain_message(scripted, answer, kind, clock):
    url, answers = scripted
    repo = MemoryRepository()
    core = FieldCore("/tmp/unused-field-core", transport_factory=lambda u, t: RequestsTransport(u, t, clock=clock),
                     clock=clock, sleep=lambda s: None, repository=repo)
    repo.put("enrollment", {"server_url": url, "device_uid": "d", "token": "t", "username": "u",
                            "display_name": "u", "grids": [GRID]})
    from server.records.categories import catalogue
    repo.put("categories", catalogue().served())
    record = core.new_record("mediation")
    record.fields = mediation()
    core.submit(record)
    before = [i.body for i in repo.outbox_items()]
    answers[:] = [answer] * 3
    report = core.sync()
    assert not report.ok and report.error_kind == kind, report
    assert report.error and "<" not in report.error and all(ord(c) > 127 for c in report.error[:2])
    assert [i.body for i in repo.outbox_items()] == before
    assert core.record(record.id).state == WAITING


def test_timeout_is_a_timeout(clock):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)                      # accepts the connection, never answers
    try:
        transport = RequestsTransport(f"http://127.0.0.1:{listener.getsockname()[1]}", "t", timeout=(1, 0.2),
                                      clock=clock)
        with pytest.raises(CoreError) as caught:
            transport.pull(None, 10)
        assert caught.value.kind == "timeout"
    finally:
        listener.close()


def test_clock_offset_is_read_from_x_server_time(scripted, clock):
    url, answers = scripted
    answers[:] = [(200, "application/json", b'{"status": "ok"}', 0)]
    transport = RequestsTransport(url, None, clock=lambda: clock.now)
    transport.health()
    assert transport.clock_offset_s == pytest.approx(10.0)   # server 06:00:10 vs device 06:00:00


def test_the_core_never_imports_kivy_or_plyer():
    import subprocess
    import sys

    code = ("import sys, field_app.core.app, field_app.core.engine, field_app.core.location; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kivy', 'plyer')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_sent_integrity_concern_cannot_be_edited(make_core):
    from field_app.core.errors import ValidationFailed

    core = make_core()
    record = core.new_record("integrity")
    record.fields = integrity()
    record = core.submit(record)  # waiting: it may already be on its way
    record.fields = {**record.fields, "description": "more"}
    with pytest.raises(ValidationFailed) as refused:
        core.submit(record)
    assert "不能修改" in refused.value.errors["_"]


def test_the_server_address_setting_overrides_the_enrolled_one(make_core):
    core = make_core()
    assert core.server_url() == "http://fake"
    core.set_setting("server_url", "http://moved.example")
    assert core.server_url() == "http://moved.example"


def test_an_acknowledged_correction_is_back_in_review_before_any_pull(make_core):
    core = make_core()
    returned = _returned_by_a_supervisor(core)
    returned.fields["parties"][1]["phone"] = "13900000000"
    core.submit(returned)
    core.fake.fail("pull", CoreError("network", "网络中断"))  # the push gets through, the pull does not
    core.sync()
    corrected = core.record(returned.id)
    assert corrected.status == "reported" and corrected.status_comment is None
    assert corrected.state == UPLOADED
