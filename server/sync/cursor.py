"""Opaque pull cursors: a versioned wrapper around a change-log id, so the format can change later.

c2 cursors point at history entries (records.models.RecordChange ids, the change log since migration 0008). c1
cursors pointed into the separate change_log table that migration dropped; their numbers mean nothing now, so a
tablet that sends one pulls again from the start, which is safe: applying a snapshot it already has changes nothing.
"""
import base64

from ..errors import BadRequest

_CURRENT, _RETIRED = "c2", "c1"


def encode(change_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURRENT}:{change_id}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix not in (_CURRENT, _RETIRED) or not number.isdigit() or len(number) > 18:  # ids are 64-bit
            raise ValueError(text)
        return int(number) if prefix == _CURRENT else 0
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest("The cursor was not issued by this server.", {"cursor": ["invalid cursor"]}) from error
