"""Attachments: the local store, resumable chunked upload (HEAD/PUT), limits, concurrency, download
permissions, and what each record still expects. Real database (both backends), real files in the test
instance folder."""
from __future__ import annotations

import hashlib
import io
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from factories import FIRST_COMMUNITY, FIRST_GRID, auth, make_device, make_user, user_token
from server import create_app
from server.accounts.services import get_user
from server.attachments import services
from server.attachments.models import Attachment, RecordAttachment
from server.attachments.storage import (ChunkLengthMismatch, LocalStorage, LockTimeout, OffsetMismatch,
                                        get_storage)
from server.errors import BadRequest
from server.extensions import db
from server.geo.models import Community, District, Grid
from server.records.models import AuditEvent, Record

URL = "/api/v1/attachments/{}"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def photo(size: int = 3000) -> bytes:
    return os.urandom(size)  # random bytes: every test has its own sha in the shared test database


def put(client, token, sha, body, start=None, total=None, content_type="image/jpeg", **headers):
    headers = {**auth(token), "Content-Type": content_type, **headers}
    if start is not None:
        headers["Content-Range"] = f"bytes {start}-{start + len(body) - 1}/{total}"
    return client.put(URL.format(sha), data=body, headers=headers)


def head(client, token, sha):
    return client.head(URL.format(sha), headers=auth(token))


def offset(response) -> int:
    return int(response.headers["Upload-Offset"])


def make_record(app, category="mediation", grid_code=FIRST_GRID, shas=()) -> str:
    """A Record row inserted directly (the record write path is another module's), linked to `shas`."""
    creator = make_user(app)
    with app.app_context():
        grid = db.session.scalar(select(Grid).where(Grid.code == grid_code))
        community = grid.community
        record = Record(id=str(uuid.uuid4()), category=category, grid_id=grid.id, grid_code=grid.code,
                        community_code=community.code, street_code=community.street.code,
                        district_code=community.street.district.code, status="reported", version=1,
                        content={}, occurred_at=datetime.now(timezone.utc),
                        created_by_id=get_user(creator).id)
        db.session.add(record)
        db.session.flush()
        services.link_record(record.id, list(shas))
        db.session.commit()
        return record.id


def other_community(app) -> str:
    """A community in another street than the first grid's."""
    with app.app_context():
        return db.session.scalar(select(Community.code).where(~Community.code.startswith(FIRST_COMMUNITY[:9]))
                                 .order_by(Community.code))


def other_district(app) -> str:
    with app.app_context():
        return db.session.scalar(select(District.code).where(District.code != FIRST_GRID[:6])
                                 .order_by(District.code))


@pytest.fixture
def tablet(grid_app):
    """(test client, device token) of a grid administrator's enrolled tablet, scoped to the first grid."""
    username = make_user(grid_app)
    return grid_app.test_client(), make_device(grid_app, username)[1]


@pytest.fixture
def store(grid_app) -> LocalStorage:
    return get_storage(grid_app)


@pytest.fixture
def live_server(grid_app):
    """The test app behind a real threaded HTTP server on 127.0.0.1 (a real socket, real concurrency)."""
    server = make_server("127.0.0.1", 0, grid_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


# The local store, on its own -----------------------------------------------------------------------------

def test_store_appends_resumes_and_finalizes_into_objects(tmp_path):
    store = LocalStorage(str(tmp_path / "attachments"))
    data = photo(1000)
    sha = digest(data)
    assert store.received(sha) == 0 and not store.exists(sha)
    assert store.append(sha, 0, io.BytesIO(data[:400]), 400) == 400
    assert (tmp_path / "attachments" / "partial" / sha).stat().st_size == 400
    assert store.received(sha) == 400
    assert store.append(sha, 400, io.BytesIO(data[400:]), 600) == 1000
    assert store.finalize(sha) is True
    assert store.exists(sha) and store.received(sha) == 1000
    assert not (tmp_path / "attachments" / "partial" / sha).exists()
    assert (tmp_path / "attachments" / "objects" / sha[:2] / sha).read_bytes() == data
    with store.open(sha) as file:
        assert file.read() == data
    assert (tmp_path / "attachments" / "objects" / sha[:2] / sha).stat().st_mode & 0o077 == 0


def test_store_refuses_a_chunk_that_does_not_start_where_the_file_ends(tmp_path):
    store = LocalStorage(str(tmp_path))
    sha = digest(b"x")
    store.append(sha, 0, io.BytesIO(b"abc"), 3)
    for wrong in (0, 2, 4):
        with pytest.raises(OffsetMismatch) as caught:
            store.append(sha, wrong, io.BytesIO(b"def"), 3)
        assert caught.value.held == 3
    assert store.received(sha) == 3


def test_store_keeps_nothing_of_a_short_long_or_broken_chunk(tmp_path):
    store = LocalStorage(str(tmp_path))
    sha = digest(b"y")
    with pytest.raises(ChunkLengthMismatch):
        store.append(sha, 0, io.BytesIO(b"abc"), 5)
    assert store.received(sha) == 0 and not os.path.exists(store.partial_path(sha))
    store.append(sha, 0, io.BytesIO(b"abc"), 3)
    with pytest.raises(ChunkLengthMismatch):
        store.append(sha, 3, io.BytesIO(b"defgh"), 3)  # more than announced

    class Dropped(io.RawIOBase):
        """A connection that delivers a few bytes and dies."""

        def __init__(self):
            self.sent = False

        def read(self, n=-1):
            if not self.sent:
                self.sent = True
                return b"de"
            raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        store.append(sha, 3, Dropped(), 3)
    assert store.received(sha) == 3
    assert open(store.partial_path(sha), "rb").read() == b"abc"


def test_store_fsyncs_each_chunk_before_reporting_it(tmp_path, monkeypatch):
    store = LocalStorage(str(tmp_path))
    real_fsync, synced = os.fsync, []

    def recording_fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        synced.append((path, os.fstat(fd).st_size))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    data = photo(700)
    sha = digest(data)
    store.append(sha, 0, io.BytesIO(data[:300]), 300)
    assert (store.partial_path(sha), 300) in synced  # the file, with all 300 bytes, before append returned
    assert any(path == store.partial_dir for path, _ in synced)  # and its creation in the directory
    synced.clear()
    store.append(sha, 300, io.BytesIO(data[300:]), 400)
    assert synced == [(store.partial_path(sha), 700)]
    synced.clear()
    assert store.finalize(sha)
    assert os.path.dirname(store.object_path(sha)) in [path for path, _ in synced]  # the rename is durable


def test_store_finalize_discards_a_partial_file_with_the_wrong_hash(tmp_path):
    store = LocalStorage(str(tmp_path))
    sha = digest(b"what the client promised")
    store.append(sha, 0, io.BytesIO(b"what arrived instead"), 20)
    assert store.finalize(sha) is False
    assert store.received(sha) == 0 and not store.exists(sha)
    assert not os.path.exists(store.partial_path(sha))
    with pytest.raises(FileNotFoundError):
        store.open(sha)


def test_store_discard_forgets_only_the_partial_upload(tmp_path):
    store = LocalStorage(str(tmp_path))
    data = b"complete"
    store.append(digest(data), 0, io.BytesIO(data), len(data))
    store.finalize(digest(data))
    store.append(digest(b"other"), 0, io.BytesIO(b"oth"), 3)
    store.discard(digest(b"other"))
    store.discard(digest(data))
    assert store.received(digest(b"other")) == 0
    assert store.exists(digest(data))


def test_store_lock_excludes_other_threads_and_can_time_out(tmp_path):
    store = LocalStorage(str(tmp_path))
    sha = digest(b"locked")
    holding, release, order = threading.Event(), threading.Event(), []

    def holder():
        with store.lock(sha):
            order.append("first in")
            holding.set()
            release.wait(5)
            order.append("first out")

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(5)
    with pytest.raises(LockTimeout):
        with store.lock(sha, timeout=0.2):
            pass
    threading.Timer(0.2, release.set).start()
    with store.lock(sha, timeout=5):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]


def test_store_lock_file_is_removed_once_complete_and_the_lock_still_works(tmp_path):
    store = LocalStorage(str(tmp_path))
    data = b"done"
    sha = digest(data)
    with store.lock(sha):
        store.append(sha, 0, io.BytesIO(data), 4)
        store.finalize(sha)
    assert not os.path.exists(os.path.join(store.locks_dir, sha))
    with store.lock(sha, timeout=1):
        pass


def test_storage_factory_defaults_to_local_in_the_instance_folder(grid_app, tmp_path):
    store = get_storage(grid_app)
    assert isinstance(store, LocalStorage) and get_storage(grid_app) is store
    assert store.root == os.path.join(grid_app.instance_path, "attachments")
    other = create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite://",
                        "ATTACHMENT_STORAGE": "carrier-pigeon"})
    with pytest.raises(RuntimeError, match="ATTACHMENT_STORAGE"):
        get_storage(other)


# Upload over HTTP ----------------------------------------------------------------------------------------

def test_chunked_upload_resumes_after_a_lost_connection(grid_app, tablet, store):
    client, token = tablet
    data = photo(10_000)
    sha = digest(data)

    never_seen = head(client, token, sha)
    assert never_seen.status_code == 200
    assert offset(never_seen) == 0 and never_seen.headers["Attachment-Complete"] == "0"
    assert "Upload-Length" not in never_seen.headers

    first = put(client, token, sha, data[:4000], start=0, total=10_000)
    assert first.status_code == 200
    assert first.get_json() == {"sha256": sha, "received_bytes": 4000, "total_bytes": 10_000,
                                "complete": False}
    assert offset(first) == 4000

    # The second chunk's connection dies after 1,000 of its 4,000 bytes.
    lost = client.put(URL.format(sha), input_stream=io.BytesIO(data[4000:5000]),
                      headers={**auth(token), "Content-Range": "bytes 4000-7999/10000",
                               "Content-Length": "4000"})
    assert lost.status_code == 400
    resumed = head(client, token, sha)
    assert (offset(resumed), resumed.headers["Upload-Length"], resumed.headers["Attachment-Complete"]) == \
        (4000, "10000", "0")
    assert store.received(sha) == 4000

    assert put(client, token, sha, data[4000:8000], start=4000, total=10_000,
               content_type="text/plain").status_code == 200
    last = put(client, token, sha, data[8000:], start=8000, total=10_000)
    assert last.status_code == 201
    assert last.get_json() == {"sha256": sha, "received_bytes": 10_000, "total_bytes": 10_000,
                               "complete": True}
    done = head(client, token, sha)
    assert (offset(done), done.headers["Attachment-Complete"]) == (10_000, "1")
    with store.open(sha) as file:
        assert file.read() == data
    with grid_app.app_context():
        row = db.session.get(Attachment, sha)
        assert row.complete and row.completed_at is not None and row.content_type == "image/jpeg"


def test_a_real_socket_dropped_mid_chunk_keeps_only_whole_chunks(grid_app, tablet, live_server, store):
    client, token = tablet
    data = photo(6000)
    sha = digest(data)
    assert put(client, token, sha, data[:2000], start=0, total=6000).status_code == 200
    host, port = live_server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            f"PUT {URL.format(sha)} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Range: bytes 2000-5999/6000\r\nContent-Length: 4000\r\n\r\n".encode() + data[2000:3500])
        time.sleep(0.3)  # let the server take the attachment's lock and write what arrived
    with store.lock(sha, timeout=5):  # free again once the server has noticed the dead connection
        assert store.received(sha) == 2000  # the 1,500 bytes of the broken chunk were rolled back
    response = requests.head(live_server + URL.format(sha), headers=auth(token), timeout=5)
    assert offset(response) == 2000 and store.received(sha) == 2000
    assert requests.put(live_server + URL.format(sha), data=data[2000:], timeout=5,
                        headers={**auth(token), "Content-Range": "bytes 2000-5999/6000"}).status_code == 201
    with store.open(sha) as file:
        assert file.read() == data


def test_a_chunk_at_the_wrong_offset_is_409_with_the_offset_to_resume_from(tablet):
    client, token = tablet
    data = photo(3000)
    sha = digest(data)
    put(client, token, sha, data[:1000], start=0, total=3000)
    for start in (0, 500, 2000):  # a repeat of held bytes, a partial overlap, a gap
        response = put(client, token, sha, data[start:start + 1000], start=start, total=3000)
        assert response.status_code == 409
        body = response.get_json()
        assert body["code"] == "offset_mismatch" and body["status"] == 409
        assert body["errors"]["received_bytes"] == [1000] and "Content-Range" in body["errors"]
        assert offset(response) == 1000 and response.headers["Upload-Length"] == "3000"
    assert offset(head(client, token, sha)) == 1000


def test_a_changed_total_is_409(tablet):
    client, token = tablet
    data = photo(3000)
    sha = digest(data)
    put(client, token, sha, data[:1000], start=0, total=3000)
    response = put(client, token, sha, data[1000:2000], start=1000, total=4000)
    assert response.status_code == 409 and response.get_json()["code"] == "length_mismatch"
    assert response.get_json()["errors"]["total_bytes"] == [3000]
    assert offset(response) == 1000 and response.headers["Upload-Length"] == "3000"


def test_a_hash_mismatch_is_422_and_the_upload_starts_over(grid_app, tablet, store):
    client, token = tablet
    data = photo(2000)
    sha = digest(data)
    corrupted = data[:1000] + bytes(1000)
    assert put(client, token, sha, corrupted[:1000], start=0, total=2000).status_code == 200
    response = put(client, token, sha, corrupted[1000:], start=1000, total=2000)
    assert response.status_code == 422
    assert response.get_json()["code"] == "hash_mismatch" and "sha256" in response.get_json()["errors"]
    assert offset(response) == 0
    assert store.received(sha) == 0 and not os.path.exists(store.partial_path(sha)) and not store.exists(sha)
    again = head(client, token, sha)
    assert offset(again) == 0 and "Upload-Length" not in again.headers
    assert put(client, token, sha, data).status_code == 201
    with store.open(sha) as file:
        assert file.read() == data


def test_the_size_limit_is_exact_and_checked_before_any_byte_is_stored(grid_app, tablet, store, monkeypatch):
    client, token = tablet
    monkeypatch.setitem(grid_app.config, "ATTACHMENT_MAX_BYTES", 1000)
    exact = photo(1000)
    assert put(client, token, digest(exact), exact).status_code == 201

    too_big = photo(1001)
    for response in (put(client, token, digest(too_big), too_big),
                     put(client, token, digest(too_big), too_big[:100], start=0, total=1001)):
        assert response.status_code == 413
        body = response.get_json()
        assert body["code"] == "payload_too_large" and body["errors"]["max_bytes"] == [1000]
        assert "1000" in body["message"] and "1001" in body["message"]
    assert store.received(digest(too_big)) == 0 and not os.path.exists(store.partial_path(digest(too_big)))
    with grid_app.app_context():
        assert db.session.get(Attachment, digest(too_big)) is None


def test_a_body_over_max_content_length_gets_the_json_413(grid_app, tablet, store, monkeypatch):
    client, token = tablet
    monkeypatch.setitem(grid_app.config, "MAX_CONTENT_LENGTH", 500)
    data = photo(800)
    response = put(client, token, digest(data), data)
    assert response.status_code == 413 and response.is_json
    assert set(response.get_json()) == {"code", "status", "message", "errors"}
    assert response.get_json()["status"] == 413 and response.get_json()["errors"]["max_body_bytes"] == [500]
    assert store.received(digest(data)) == 0 and not os.path.exists(store.partial_path(digest(data)))


@pytest.mark.parametrize("bad", ["ABCDEF" + "0" * 58, "0" * 63, "0" * 65, "g" * 64, "not-a-sha"])
def test_a_malformed_sha_is_400(tablet, bad):
    client, token = tablet
    assert head(client, token, bad).status_code == 400
    for response in (put(client, token, bad, b"abc"), client.get(URL.format(bad), headers=auth(token))):
        assert response.status_code == 400
        assert response.get_json()["errors"]["sha256"]


@pytest.mark.parametrize("header", ["", "bytes=0-9/10", "bytes 0-9", "bytes */10", "bytes 5-2/10",
                                    "bytes 0-10/10", "bytes -1-9/10", "items 0-9/10", "bytes 0-9/ten",
                                    "bytes 0 - 9/10"])
def test_a_garbled_content_range_is_400(tablet, store, header):
    client, token = tablet
    data = photo(10)
    response = client.put(URL.format(digest(data)), data=data,
                          headers={**auth(token), "Content-Range": header})
    assert response.status_code == 400
    assert "Content-Range" in response.get_json()["errors"]
    assert store.received(digest(data)) == 0


def test_content_range_is_needed_unless_the_body_is_the_whole_file(tablet):
    client, token = tablet
    empty = client.put(URL.format(digest(b"")), data=b"", headers=auth(token))
    assert empty.status_code == 400 and "Content-Range" in empty.get_json()["errors"]
    data = photo(50)
    mismatch = client.put(URL.format(digest(data)), data=data[:40],
                          headers={**auth(token), "Content-Range": "bytes 0-49/50"})
    assert mismatch.status_code == 400 and "Content-Range" in mismatch.get_json()["errors"]
    assert put(client, token, digest(data), data).status_code == 201


def test_every_attachment_endpoint_needs_a_token(client):
    sha = digest(b"anything")
    for method in ("head", "put", "get"):
        response = getattr(client, method)(URL.format(sha), data=b"x" if method == "put" else None)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bogus = client.head(URL.format(sha), headers=auth("not-a-real-token"))
    assert bogus.status_code == 401


def test_a_user_token_may_upload_too(grid_app):
    supervisor = make_user(grid_app, "supervisor", scopes=(FIRST_COMMUNITY,))
    client, token = grid_app.test_client(), user_token(grid_app, supervisor)
    data = photo(100)
    assert put(client, token, digest(data), data, content_type="application/pdf").status_code == 201
    assert head(client, token, digest(data)).headers["Attachment-Complete"] == "1"
    with grid_app.app_context():
        assert db.session.get(Attachment, digest(data)).content_type == "application/pdf"


OPAQUE = "application/octet-stream"


@pytest.mark.parametrize("sent,stored", [("image/png", "image/png"), ("image/heic", "image/heic"),
                                         ("IMAGE/JPEG; q=1", "image/jpeg"), ("image/svg+xml", OPAQUE),
                                         ("text/html", OPAQUE), (None, OPAQUE)])
def test_the_first_chunk_type_is_kept_only_for_images_and_pdf(grid_app, tablet, sent, stored):
    client, token = tablet
    data = photo(64)
    headers = {**auth(token)}
    if sent:
        headers["Content-Type"] = sent
    assert client.put(URL.format(digest(data)), data=data, headers=headers).status_code == 201
    with grid_app.app_context():
        assert db.session.get(Attachment, digest(data)).content_type == stored


def test_re_putting_a_complete_attachment_is_an_idempotent_200(grid_app, tablet, store):
    client, token = tablet
    data = photo(2000)
    sha = digest(data)
    assert put(client, token, sha, data).status_code == 201
    stamp = os.stat(store.object_path(sha)).st_mtime_ns
    for response in (put(client, token, sha, data),
                     put(client, token, sha, data[500:1500], start=500, total=2000),
                     put(client, token, sha, bytes(2000))):  # the bytes are not even looked at
        assert response.status_code == 200
        assert response.get_json() == {"sha256": sha, "received_bytes": 2000, "total_bytes": 2000,
                                       "complete": True}
        assert response.headers["Attachment-Complete"] == "1"
    assert os.stat(store.object_path(sha)).st_mtime_ns == stamp
    with store.open(sha) as file:
        assert file.read() == data
    wrong_total = put(client, token, sha, data[:10], start=0, total=3000)
    assert wrong_total.status_code == 409 and wrong_total.get_json()["code"] == "length_mismatch"


def test_the_store_wins_when_the_bookkeeping_fell_behind_in_a_crash(grid_app, tablet, store):
    """Bytes fsync'd but the row not yet updated (a crash between the two), in each of the three places."""
    client, token = tablet
    data = photo(3000)
    sha = digest(data)
    put(client, token, sha, data[:1000], start=0, total=3000)
    store.append(sha, 1000, io.BytesIO(data[1000:2000]), 1000)  # the row still says 1000
    assert offset(head(client, token, sha)) == 1000
    behind = put(client, token, sha, data[1000:2000], start=1000, total=3000)
    assert behind.status_code == 409 and offset(behind) == 2000
    store.append(sha, 2000, io.BytesIO(data[2000:]), 1000)  # every byte held, hash never checked
    finished = put(client, token, sha, data[2000:], start=2000, total=3000)
    assert finished.status_code == 201 and finished.get_json()["complete"] is True

    other = photo(500)
    with store.lock(digest(other)):  # complete on disk, no row at all
        store.append(digest(other), 0, io.BytesIO(other), 500)
        store.finalize(digest(other))
    response = put(client, token, digest(other), other)
    assert response.status_code == 200 and response.get_json()["complete"] is True
    assert head(client, token, digest(other)).headers["Attachment-Complete"] == "1"


# Concurrency ---------------------------------------------------------------------------------------------

def _upload_until_complete(base_url, token, data, chunk, start_together, statuses):
    sha = digest(data)
    session_headers = auth(token)
    start_together.wait(5)
    position = offset(requests.head(base_url + URL.format(sha), headers=session_headers, timeout=10))
    for _ in range(1000):
        end = min(position + chunk, len(data))
        response = requests.put(base_url + URL.format(sha), data=data[position:end], timeout=30,
                                headers={**session_headers, "Content-Type": "image/jpeg",
                                         "Content-Range": f"bytes {position}-{end - 1}/{len(data)}"})
        statuses.append(response.status_code)
        if response.status_code in (200, 201) and response.json()["complete"]:
            return
        assert response.status_code in (200, 201, 409), response.text
        position = offset(response)
    raise AssertionError("the upload never completed")


def test_concurrent_uploads_of_one_file_end_with_one_correct_file(grid_app, live_server, store):
    """Three tablets (or one tablet's retries) push the same photo at once through real HTTP."""
    username = make_user(grid_app)
    tokens = [make_device(grid_app, username)[1] for _ in range(3)]
    data = photo(256 * 1024)
    sha = digest(data)
    start_together, statuses, errors = threading.Barrier(len(tokens)), [], []

    def worker(token):
        try:
            _upload_until_complete(live_server, token, data, 8 * 1024, start_together, statuses)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert statuses.count(201) == 1  # exactly one request completed the file
    assert set(statuses) <= {200, 201, 409}
    with store.open(sha) as file:
        assert hashlib.sha256(file.read()).hexdigest() == sha
    assert not os.path.exists(store.partial_path(sha))
    with grid_app.app_context():
        row = db.session.get(Attachment, sha)
        assert row.complete and row.received_bytes == row.total_bytes == len(data)


def test_a_chunk_waits_while_another_request_holds_the_attachment(grid_app, tablet, store, monkeypatch):
    client, token = tablet
    data = photo(1000)
    sha = digest(data)
    result = {}
    with store.lock(sha):
        thread = threading.Thread(target=lambda: result.update(response=put(client, token, sha, data)))
        thread.start()
        time.sleep(0.4)
        assert thread.is_alive() and store.received(sha) == 0  # waiting for the lock, nothing written
    thread.join(10)
    assert result["response"].status_code == 201

    monkeypatch.setitem(grid_app.config, "ATTACHMENT_LOCK_TIMEOUT", 0.2)
    other = photo(1000)
    with store.lock(digest(other)):
        busy = put(client, token, digest(other), other)
    assert busy.status_code == 409 and busy.get_json()["code"] == "upload_in_progress"
    assert busy.headers["Retry-After"]
    assert store.received(digest(other)) == 0


# Download permissions ------------------------------------------------------------------------------------

def _uploaded(grid_app, data: bytes) -> str:
    username = make_user(grid_app)
    client, token = grid_app.test_client(), make_device(grid_app, username)[1]
    assert put(client, token, digest(data), data).status_code == 201
    return digest(data)


def _get(grid_app, token, sha, **headers):
    return grid_app.test_client().get(URL.format(sha), headers={**auth(token), **headers})


def test_download_is_for_those_who_may_see_a_record_referring_to_it(grid_app):
    data = photo(5000)
    sha = _uploaded(grid_app, data)
    make_record(grid_app, "mediation", shas=[sha])

    grid_admin = make_user(grid_app)
    allowed = [user_token(grid_app, grid_admin), make_device(grid_app, grid_admin)[1],
               user_token(grid_app, make_user(grid_app, "supervisor", scopes=(FIRST_COMMUNITY,))),
               user_token(grid_app, make_user(grid_app, "supervisor", scopes=(FIRST_COMMUNITY[:9],))),
               user_token(grid_app, make_user(grid_app, "inspector", scopes=(FIRST_GRID[:6],)))]
    for token in allowed:
        response = _get(grid_app, token, sha)
        assert response.status_code == 200, response.get_json()
        assert response.data == data and response.mimetype == "image/jpeg"
        assert response.headers["Content-Length"] == "5000"
        assert response.headers["ETag"] == f'"{sha}"'
        assert "private" in response.headers["Cache-Control"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert _get(grid_app, token, sha, **{"If-None-Match": f'"{sha}"'}).status_code == 304
    part = _get(grid_app, allowed[0], sha, Range="bytes=1000-1999")  # a download resumed after a break
    assert part.status_code == 206 and part.data == data[1000:2000]
    assert part.headers["Content-Range"] == "bytes 1000-1999/5000"

    elsewhere = other_community(grid_app)
    denied = [user_token(grid_app, make_user(grid_app, "supervisor", scopes=(elsewhere,))),
              user_token(grid_app, make_user(grid_app, scopes=(elsewhere + "001",))),
              # City viewers see aggregates only; a photo may show people.
              user_token(grid_app, make_user(grid_app, "city_viewer", scopes=("420500",)))]
    unknown = digest(b"never uploaded")
    for token in denied:
        response = _get(grid_app, token, sha)
        assert response.status_code == 404 and response.get_json()["code"] == "not_found"
        # Indistinguishable from an attachment that does not exist.
        assert response.get_json()["message"] == _get(grid_app, token, unknown).get_json()["message"]


def test_an_unlinked_or_incomplete_attachment_is_404_even_in_scope(grid_app, tablet):
    client, token = tablet
    lonely = _uploaded(grid_app, photo(100))
    assert _get(grid_app, token, lonely).status_code == 404
    data = photo(1000)
    put(client, token, digest(data), data[:500], start=0, total=1000)
    make_record(grid_app, shas=[digest(data)])
    assert _get(grid_app, token, digest(data)).status_code == 404


def test_integrity_evidence_is_for_inspectors_only_and_its_reads_are_audited(grid_app):
    data = photo(2000)
    sha = _uploaded(grid_app, data)
    record_id = make_record(grid_app, "integrity", shas=[sha])
    grid_admin = make_user(grid_app)
    for token in (make_device(grid_app, grid_admin)[1],
                  user_token(grid_app, make_user(grid_app, "supervisor", scopes=(FIRST_COMMUNITY,))),
                  user_token(grid_app, make_user(grid_app, "admin", scopes=("420500",))),
                  user_token(grid_app, make_user(grid_app, "inspector", scopes=(other_district(grid_app),)))):
        assert _get(grid_app, token, sha).status_code == 404

    inspector = make_user(grid_app, "inspector", scopes=("420500",))
    response = _get(grid_app, user_token(grid_app, inspector), sha)
    assert response.status_code == 200 and response.data == data
    with grid_app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.record_id == record_id)).all()
        assert [(e.action, e.user_id, e.detail) for e in events] == \
            [("attachment_read", get_user(inspector).id, {"sha256": sha})]

    # The same photo also on an ordinary record: the supervisor sees it through that one.
    make_record(grid_app, "mediation", shas=[sha])
    supervisor = make_user(grid_app, "supervisor", scopes=(FIRST_COMMUNITY,))
    assert _get(grid_app, user_token(grid_app, supervisor), sha).status_code == 200


# What a record still expects -----------------------------------------------------------------------------

def test_expected_and_missing_attachments_of_a_record(grid_app, tablet):
    client, token = tablet
    arrived, halfway, never = photo(300), photo(300), photo(300)
    record_id = make_record(grid_app, shas=[digest(arrived), digest(halfway), digest(never), digest(arrived)])
    put(client, token, digest(arrived), arrived)
    put(client, token, digest(halfway), halfway[:100], start=0, total=300)
    with grid_app.app_context():
        expected = {item["sha256"]: item for item in services.expected_for_record(record_id)}
        assert expected == {
            digest(arrived): {"sha256": digest(arrived), "received_bytes": 300, "total_bytes": 300,
                              "complete": True},
            digest(halfway): {"sha256": digest(halfway), "received_bytes": 100, "total_bytes": 300,
                              "complete": False},
            digest(never): {"sha256": digest(never), "received_bytes": 0, "total_bytes": None,
                            "complete": False},
        }
        assert sorted(services.missing_for_record(record_id)) == sorted([digest(halfway), digest(never)])
        assert services.expected_for_record(str(uuid.uuid4())) == []

    put(client, token, digest(halfway), halfway[100:], start=100, total=300)
    put(client, token, digest(never), never)
    with grid_app.app_context():
        assert services.missing_for_record(record_id) == []


def test_link_record_adds_only_missing_links_and_checks_shas(grid_app):
    first, second = digest(b"one"), digest(b"two")
    record_id = make_record(grid_app, shas=[first])
    with grid_app.app_context():
        services.link_record(record_id, [first, second, second])
        services.link_record(record_id, [])
        db.session.commit()
        links = db.session.scalars(select(RecordAttachment.sha256)
                                   .where(RecordAttachment.record_id == record_id)).all()
        assert sorted(links) == sorted([first, second])
        with pytest.raises(BadRequest) as caught:
            services.link_record(record_id, ["NOT-A-SHA"])
        assert "sha256" in caught.value.errors
        db.session.rollback()


def test_status_service_validates_the_sha(grid_app):
    with grid_app.app_context():
        assert services.status(digest(b"unseen")) == {"sha256": digest(b"unseen"), "received_bytes": 0,
                                                      "total_bytes": None, "complete": False}
        with pytest.raises(BadRequest):
            services.status("XYZ")
