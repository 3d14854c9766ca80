"""Attachment uploads in resumable chunks, what each record still expects, and who may download what.

The bytes live in a storage backend (storage.py); the `attachments` table is bookkeeping for quick answers.
When the two disagree after a crash, the store wins: every chunk upload first reconciles the row with the
store while holding the attachment's lock, and a row's `received_bytes` only counts bytes the store fsync'd.

Writers of one attachment are serialized by the store's per-attachment lock (a flock on the local store), not
by a database lock: a chunk arrives at the speed of a tablet on a poor mobile network, and holding SQLite's
database-wide write lock, or a PostgreSQL transaction and its pooled connection, for that long would stall
everyone else. So no database transaction is open while the body is read.
"""
from __future__ import annotations

import logging
import re
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select

from ..errors import BadRequest, Conflict, NotFound, PayloadTooLarge, Unprocessable
from ..accounts.auth import RECORD_READERS
from ..extensions import db
from ..records.categories import catalogue
from ..records.models import AuditEvent, Record
from ..timeutil import utcnow
from .models import Attachment, RecordAttachment
from .schemas import CONTENT_RANGE_ERROR, parse_sha256
from .storage import ChunkLengthMismatch, LockTimeout, OffsetMismatch, get_storage

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_LOCK_TIMEOUT = 15.0  # seconds a chunk waits for another upload of the same attachment
LOCK_RETRY_AFTER = "5"
OCTET_STREAM = "application/octet-stream"
# image/svg+xml is deliberately not an image here: it can carry scripts.
STORED_TYPE = re.compile(r"^(image/(?!svg)[a-z0-9][a-z0-9.+-]{0,60}|application/pdf)$")


class OffsetMismatchError(Conflict):
    code = "offset_mismatch"


class LengthMismatchError(Conflict):
    code = "length_mismatch"


class UploadInProgress(Conflict):
    code = "upload_in_progress"


class HashMismatch(Unprocessable):
    code = "hash_mismatch"


def _with_headers(error, **headers):
    error.headers = {name.replace("_", "-"): str(value) for name, value in headers.items()}
    return error


def max_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def _storage():
    return get_storage(current_app)


def _state(sha: str, row: Attachment | None) -> dict:
    if row is None:
        return {"sha256": sha, "received_bytes": 0, "total_bytes": None, "complete": False}
    return {"sha256": sha, "received_bytes": row.received_bytes, "total_bytes": row.total_bytes,
            "complete": bool(row.complete)}


def stored_content_type(mimetype: str | None) -> str:
    """The first chunk's type when it is an image or a PDF; anything else is kept as opaque bytes."""
    mimetype = (mimetype or "").split(";", 1)[0].strip().lower()
    return mimetype if STORED_TYPE.match(mimetype) else OCTET_STREAM


# Upload -----------------------------------------------------------------------------------------------------

def status(sha: str) -> dict:
    """What the server holds of `sha`: {sha256, received_bytes, total_bytes, complete}; 0 bytes if unknown."""
    sha = parse_sha256(sha)
    return _state(sha, db.session.get(Attachment, sha))


def put_chunk(sha: str, start: int, end: int, total: int, stream: BinaryIO, content_type: str | None,
              principal) -> dict:
    """Store bytes START..END (inclusive) of a file of TOTAL bytes whose SHA-256 is `sha`, read from `stream`.

    Returns the upload state {sha256, received_bytes, total_bytes, complete} plus `completed_now` (True when
    this chunk completed the file). Manages its own transactions: it commits the caller's (read-only)
    transaction before waiting for the attachment's lock, and commits its bookkeeping before and after reading
    the body. Raises BadRequest (sha, range, body length), PayloadTooLarge (TOTAL over ATTACHMENT_MAX_BYTES,
    before anything is read), OffsetMismatchError / LengthMismatchError / UploadInProgress (409) and
    HashMismatch (422).
    """
    sha = parse_sha256(sha)
    if not 0 <= start <= end < total:
        raise BadRequest("The byte range is not inside the file.", {"Content-Range": [CONTENT_RANGE_ERROR]})
    limit = max_bytes()
    if total > limit:
        raise PayloadTooLarge(f"The attachment is {total} bytes; the largest accepted is {limit} bytes.",
                              {"total_bytes": [f"must be at most {limit} bytes"], "max_bytes": [limit]})
    storage = _storage()
    db.session.commit()  # hold no transaction (nor pooled connection) while waiting for the lock
    timeout = float(current_app.config.get("ATTACHMENT_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT))
    try:
        with storage.lock(sha, timeout=timeout):
            result = _put_locked(storage, sha, start, end, total, stream, content_type)
    except LockTimeout:
        raise _with_headers(UploadInProgress(
            "Another upload of this attachment is in progress; ask HEAD for the offset and try again soon.",
            {"sha256": ["an upload of this attachment is in progress"]}),
            Retry_After=LOCK_RETRY_AFTER) from None
    if result["completed_now"]:
        who = principal.device.uid if getattr(principal, "device", None) else principal.user.username
        log.info("attachment %s complete (%d bytes) from %s", sha, total, who)
    return result


def _put_locked(storage, sha, start, end, total, stream, content_type) -> dict:
    row = db.session.get(Attachment, sha, populate_existing=True)

    if storage.exists(sha):  # complete already (or completed just before a crash that the row missed)
        size = storage.received(sha)
        if row is None:
            row = Attachment(sha256=sha, content_type=OCTET_STREAM, created_at=utcnow())
            db.session.add(row)
        if not row.complete:
            row.complete, row.completed_at, row.received_bytes, row.total_bytes = True, utcnow(), size, size
            db.session.commit()
        if total != size:
            raise _length_mismatch(sha, size, size)
        return {**_state(sha, row), "completed_now": False}

    if row is not None and row.complete:  # the row says complete but the file is gone: take it again
        log.error("attachment %s is marked complete but missing from storage; accepting it again", sha)
        row.complete, row.completed_at = False, None

    held = storage.received(sha)
    if row is None:
        row = Attachment(sha256=sha, total_bytes=total, received_bytes=held, complete=False,
                         created_at=utcnow())
        db.session.add(row)
    if row.total_bytes is not None and held > row.total_bytes:  # only if someone tampered with the store
        log.error("attachment %s: %d bytes held for a file of %d; starting again", sha, held, row.total_bytes)
        storage.discard(sha)
        held = 0
    row.received_bytes = held
    if held == 0:
        row.total_bytes = total  # nothing held yet: the client may (re)declare the length
    elif row.total_bytes is None:
        row.total_bytes = total
    if held and held == row.total_bytes:  # every byte arrived but the server crashed before checking the hash
        return _finish(storage, sha, row, completed_now=True)
    if total != row.total_bytes:
        db.session.commit()
        raise _length_mismatch(sha, held, row.total_bytes)
    if start != held:
        db.session.commit()
        raise _with_headers(OffsetMismatchError(
            f"The chunk starts at byte {start} but the server holds {held} bytes; send from byte {held}.",
            {"Content-Range": [f"must start at {held}"], "received_bytes": [held]}),
            Upload_Offset=held, Upload_Length=row.total_bytes)
    if start == 0:
        row.content_type = stored_content_type(content_type)
    db.session.commit()  # no transaction open while the body arrives

    try:
        row.received_bytes = storage.append(sha, start, stream, end - start + 1)
    except OffsetMismatch as error:  # only if something bypassed the lock
        raise _with_headers(OffsetMismatchError(
            f"The server holds {error.held} bytes; send from byte {error.held}.",
            {"Content-Range": [f"must start at {error.held}"], "received_bytes": [error.held]}),
            Upload_Offset=error.held) from None
    except ChunkLengthMismatch as error:
        raise BadRequest(f"Content-Range announced {error.expected} bytes but {error}; nothing was kept.",
                         {"body": [f"must hold exactly {error.expected} bytes"]}) from None
    if row.received_bytes == total:
        return _finish(storage, sha, row, completed_now=True)
    db.session.commit()
    return {**_state(sha, row), "completed_now": False}


def _finish(storage, sha: str, row: Attachment, completed_now: bool) -> dict:
    if not storage.finalize(sha):
        row.received_bytes, row.total_bytes, row.content_type = 0, None, None
        db.session.commit()
        raise _with_headers(HashMismatch(
            "The uploaded bytes do not hash to this SHA-256; they were discarded. "
            "Upload the file again from byte 0.",
            {"sha256": ["the uploaded bytes have a different SHA-256"]}), Upload_Offset=0)
    row.received_bytes = row.total_bytes
    row.complete, row.completed_at = True, utcnow()
    db.session.commit()
    return {**_state(sha, row), "completed_now": completed_now}


def _length_mismatch(sha: str, held: int, declared: int) -> Conflict:
    return _with_headers(LengthMismatchError(
        f"This attachment was declared {declared} bytes long; the server holds {held} of them.",
        {"Content-Range": [f"TOTAL must be {declared}"], "total_bytes": [declared]}),
        Upload_Offset=held, Upload_Length=declared)


# Records and their attachments ------------------------------------------------------------------------------

def link_record(record_id: str, shas) -> None:
    """Note that record `record_id` refers to each of `shas` (adds the links it lacks; keeps existing ones).

    For the record write path: works in the caller's session and transaction; flushes and commits nothing.
    A malformed sha raises BadRequest naming `sha256`.
    """
    wanted = [parse_sha256(sha) for sha in dict.fromkeys(shas or ())]
    if not wanted:
        return
    known = set(db.session.scalars(
        select(RecordAttachment.sha256).where(RecordAttachment.record_id == record_id)))
    for sha in wanted:
        if sha not in known:
            db.session.add(RecordAttachment(record_id=record_id, sha256=sha))


def expected_for_record(record_id: str) -> list[dict]:
    """Every attachment the record refers to, arrived or not, ordered by sha256:
    [{sha256, received_bytes, total_bytes, complete}]."""
    rows = db.session.execute(
        select(RecordAttachment.sha256, Attachment)
        .outerjoin(Attachment, Attachment.sha256 == RecordAttachment.sha256)
        .where(RecordAttachment.record_id == record_id)
        .order_by(RecordAttachment.sha256)
    ).all()
    return [_state(sha, attachment) for sha, attachment in rows]


def missing_for_record(record_id: str) -> list[str]:
    """The shas the record refers to that are not complete on the server yet, ordered."""
    return [item["sha256"] for item in expected_for_record(record_id) if not item["complete"]]


# Download ---------------------------------------------------------------------------------------------------

def download(sha: str, principal) -> tuple[BinaryIO, str, int]:
    """(open file, content type, size) of a complete attachment that `principal` may see: a record referring
    to it must be in the principal's scope, and confidential (integrity) records count only for inspectors.
    Anything else, including an incomplete or unknown attachment, is the same NotFound. A confidential read is
    audited (added to the session; the caller commits)."""
    sha = parse_sha256(sha)
    not_found = NotFound("No attachment with this SHA-256 is available to you.", {"sha256": ["not found"]})
    row = db.session.get(Attachment, sha)
    if row is None or not row.complete or principal.role not in RECORD_READERS:
        raise not_found  # city viewers see aggregates only: photos may show people
    records = db.session.execute(
        select(Record.id, Record.category, Record.grid_code)
        .join(RecordAttachment, RecordAttachment.record_id == Record.id)
        .where(RecordAttachment.sha256 == sha)
        .order_by(Record.id)
    ).all()
    scope = principal.scope
    visible = [r for r in records if scope.allows_grid(r.grid_code)
               and (principal.sees_confidential or not catalogue().is_confidential(r.category))]
    if not visible:
        raise not_found
    try:
        file = _storage().open(sha)
    except FileNotFoundError:
        log.error("attachment %s is marked complete but missing from storage", sha)
        raise not_found from None
    if not any(not catalogue().is_confidential(r.category) for r in visible):
        # Only confidential records make it visible: this is a read of confidential evidence.
        device = getattr(principal, "device", None)
        db.session.add(AuditEvent(user_id=principal.user.id, device_id=device.id if device else None,
                                  action="attachment_read", record_id=visible[0].id, detail={"sha256": sha}))
    return file, row.content_type or OCTET_STREAM, row.total_bytes
