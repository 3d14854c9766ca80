"""Attachment wire formats: the SHA-256 in the URL, the Content-Range header, the upload-state body."""
from __future__ import annotations

import re

from marshmallow import fields

from ..errors import BadRequest
from ..schemas import BaseSchema

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
SHA256_ERROR = "must be 64 lowercase hexadecimal characters (a SHA-256 digest)"
CONTENT_RANGE_RE = re.compile(r"^bytes (\d{1,15})-(\d{1,15})/(\d{1,15})$")
CONTENT_RANGE_ERROR = "must be 'bytes START-END/TOTAL' with 0 <= START <= END < TOTAL"


def parse_sha256(value) -> str:
    if not isinstance(value, str) or not SHA256_RE.match(value):
        raise BadRequest(f"{str(value)[:80]!r} is not a SHA-256 digest.", {"sha256": [SHA256_ERROR]})
    return value


def parse_content_range(header: str | None, content_length: int | None) -> tuple[int, int, int]:
    """(START, END, TOTAL) from `Content-Range: bytes START-END/TOTAL` (END inclusive). Without the header
    the body is the whole file: bytes 0-(length-1)/length, which needs a Content-Length."""
    if header is None:
        if not content_length:
            raise BadRequest("Send a Content-Range header, or a non-empty whole file with a Content-Length.",
                             {"Content-Range": ["required unless the body is the whole file with a "
                                               "Content-Length"]})
        return 0, content_length - 1, content_length
    match = CONTENT_RANGE_RE.match(header.strip())
    if match is None:
        raise BadRequest(f"Content-Range {header[:80]!r} is malformed.",
                         {"Content-Range": [CONTENT_RANGE_ERROR]})
    start, end, total = (int(part) for part in match.groups())
    if not start <= end < total:
        raise BadRequest(f"Content-Range {header!r} is not a range inside the file.",
                         {"Content-Range": [CONTENT_RANGE_ERROR]})
    return start, end, total


class AttachmentStateSchema(BaseSchema):
    """What the server holds of one attachment (PUT answers; also the shape of expected_for_record items)."""

    sha256 = fields.String(dump_only=True)
    received_bytes = fields.Integer(dump_only=True)
    total_bytes = fields.Integer(dump_only=True, allow_none=True)
    complete = fields.Boolean(dump_only=True)
