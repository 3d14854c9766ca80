"""Opaque pull cursors: a versioned wrapper around a change-log id, so the format can change later."""
import base64

from ..errors import BadRequest


def encode(change_id: int) -> str:
    return base64.urlsafe_b64encode(f"c1:{change_id}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "c1" or not number.isdigit() or len(number) > 18:  # ids are 64-bit
            raise ValueError(text)
        return int(number)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest("The cursor was not issued by this server.", {"cursor": ["invalid cursor"]}) from error
