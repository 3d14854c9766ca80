"""Lean marshmallow fields for hot paths (sync ingest validates tens of thousands of values a minute).

marshmallow's UUID and AwareDateTime fields build objects we would only turn back into text; these validate the
same rules and return JSON-ready strings or aware datetimes directly. The parsing functions are shared with the
compiled fast path (server/fastcheck.py), so both read a time the same way.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from marshmallow import ValidationError, fields

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def parse_aware(value: object) -> datetime:
    """ISO 8601 text to an aware UTC datetime (no offset means UTC); ValueError for anything else."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("not an ISO 8601 string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError as error:  # e.g. 0001-01-01T00:00+02:00 is before year 1 in UTC
        raise ValueError("out of range in UTC") from error


def utc_text(value: object) -> str:
    """ISO 8601 text normalised to UTC seconds with a Z, the form stored in record content."""
    return parse_aware(value).isoformat(timespec="seconds").replace("+00:00", "Z")


class UUIDString(fields.Field):
    """A UUID in its canonical 36-character form, returned lower-cased as a string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _UUID.match(value):
            raise ValidationError("Not a valid UUID.")
        return value.lower()


class AwareTime(fields.Field):
    """ISO 8601 date-time; without an offset it is taken as UTC. Returns an aware datetime in UTC."""

    parse = staticmethod(parse_aware)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self.parse(value)
        except ValueError as error:
            raise ValidationError("Not a valid ISO 8601 date-time.") from error


class IsoDate(fields.Date):
    """A calendar date, stored as its ISO text."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).isoformat()


class IsoDateTime(AwareTime):
    """Any ISO 8601 time with an offset (or UTC when none), stored as UTC ISO text."""

    parse = staticmethod(utc_text)
