"""Lean marshmallow fields for hot paths (sync ingest validates tens of thousands of values a minute).

marshmallow's UUID and AwareDateTime fields build objects we would only turn back into text; these validate the
same rules and return JSON-ready strings or aware datetimes directly.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from marshmallow import ValidationError, fields

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class UUIDString(fields.Field):
    """A UUID in its canonical 36-character form, returned lower-cased as a string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _UUID.match(value):
            raise ValidationError("Not a valid UUID.")
        return value.lower()


class AwareTime(fields.Field):
    """ISO 8601 date-time; without an offset it is taken as UTC. Returns an aware datetime in UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError("Not a valid ISO 8601 date-time.")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as error:
            raise ValidationError("Not a valid ISO 8601 date-time.") from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc)
