"""Wire schemas of the records read API: the list's query arguments and the record resource as it is dumped.

The record is one resource with one schema. Who sees which part of it is decided in one place, `record_exclusions`
(the schema side: which keys exist at all) together with `queries.visible_content` (the value side: which content
fields a role may see); views never pick fields themselves.
"""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from ..accounts.auth import Principal
from ..attachments.schemas import AttachmentStateSchema
from ..fields import AwareTime
from ..schemas import BaseSchema
from ..timeutil import iso
from .categories import catalogue
from .models import STATUSES

MAX_PAGE = 500
DEFAULT_PAGE = 50
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class UtcDateTime(fields.DateTime):
    """Dumps as ISO 8601 UTC with a Z and milliseconds (timeutil.iso), the one time format on the wire."""

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(value)


# --- query arguments ----------------------------------------------------------------------------------------------

class RecordQuerySchema(BaseSchema):
    """`GET /records` arguments. `from` is inclusive and `to` exclusive, both on the server's receive time."""

    category = fields.String(validate=validate.OneOf(sorted(catalogue().categories)),
                             metadata={"description": "category key (see /categories)"})
    grid = fields.String(validate=validate.Regexp(r"^\d{15}$", error="must be a 15-digit grid code"))
    community = fields.String(validate=validate.Regexp(r"^\d{12}$", error="must be a 12-digit community code"))
    status = fields.String(validate=validate.OneOf(STATUSES))
    # AwareTime: UTC when no offset, converted to UTC, and a time outside the calendar in UTC is a 400, not a 500.
    from_ = AwareTime(data_key="from", attribute="from",
                      metadata={"description": "received at or after (ISO 8601; UTC when no offset)"})
    to = AwareTime(metadata={"description": "received before (ISO 8601; UTC when no offset)"})
    limit = fields.Integer(load_default=DEFAULT_PAGE, validate=validate.Range(min=1, max=MAX_PAGE))
    cursor = fields.String(validate=validate.Length(max=200),
                           metadata={"description": "next_cursor of the previous page (opaque)"})

    @validates_schema
    def _window(self, data, **kwargs):
        if data.get("from") and data.get("to") and data["from"] >= data["to"]:
            raise ValidationError({"to": ["must be later than from"]})


# --- the record resource ------------------------------------------------------------------------------------------

class RecordChangeSchema(BaseSchema):
    """One version in a record's history: {field: {"old", "new"}} for every field it changed."""

    version = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True, metadata={
        "enum": ["create", "update", "merge", "conflict", "status", "resubmit"]})
    at = UtcDateTime(dump_only=True)
    actor = fields.String(dump_only=True, allow_none=True, metadata={"description": "username"})
    device = fields.String(dump_only=True, allow_none=True, metadata={"description": "device uid"})
    changes = fields.Dict(keys=fields.String(), dump_only=True)
    confidential_changes = fields.Dict(keys=fields.String(), dump_only=True, allow_none=True,
                                       metadata={"description": "inspectors only, integrity concerns"})
    comment = fields.String(dump_only=True, allow_none=True)


class RecordConflictSchema(BaseSchema):
    """Two edits of one field made on different bases; the record holds device_value, server_value is kept here."""

    id = fields.Integer(dump_only=True)
    field = fields.String(dump_only=True)
    base_version = fields.Integer(dump_only=True)
    version = fields.Integer(dump_only=True, metadata={"description": "the version the conflicting edit made"})
    server_value = fields.Raw(dump_only=True, allow_none=True, metadata={"description": "value before the edit"})
    device_value = fields.Raw(dump_only=True, allow_none=True, metadata={"description": "value the edit wrote"})
    device = fields.String(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)
    resolved = fields.Boolean(dump_only=True)
    resolved_at = UtcDateTime(dump_only=True, allow_none=True)
    resolved_by = fields.String(dump_only=True, allow_none=True)


class RecordSchema(BaseSchema):
    """A record. Lists leave out history, conflicts, attachments and the confidential payload (see below)."""

    id = fields.String(dump_only=True, metadata={"format": "uuid"})
    category = fields.String(dump_only=True)
    grid_code = fields.String(dump_only=True)
    community_code = fields.String(dump_only=True)
    street_code = fields.String(dump_only=True)
    district_code = fields.String(dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": list(STATUSES)})
    status_comment = fields.String(dump_only=True, allow_none=True)
    urgency = fields.String(dump_only=True, allow_none=True)
    version = fields.Integer(dump_only=True)
    fields_ = fields.Dict(keys=fields.String(), data_key="fields", attribute="fields", dump_only=True,
                          metadata={"description": "content fields as defined by the category"})
    confidential = fields.Dict(keys=fields.String(), dump_only=True, metadata={
        "description": "integrity concerns only, inspectors only, detail only (each read is audited)"})
    occurred_at = UtcDateTime(dump_only=True, metadata={"description": "device clock"})
    occurred_at_server_est = UtcDateTime(dump_only=True, allow_none=True,
                                         metadata={"description": "device time corrected by the tablet's offset"})
    received_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)
    created_by = fields.String(dump_only=True, metadata={"description": "username"})
    device = fields.String(dump_only=True, allow_none=True, metadata={"description": "device uid"})
    open_conflicts = fields.Integer(dump_only=True)
    history = fields.List(fields.Nested(RecordChangeSchema), dump_only=True)
    conflicts = fields.List(fields.Nested(RecordConflictSchema), dump_only=True)
    # What the record still expects: complete is false until every byte has arrived and the hash matched.
    attachments = fields.List(fields.Nested(AttachmentStateSchema), dump_only=True)


class RecordPageSchema(BaseSchema):
    records = fields.List(fields.Nested(RecordSchema), dump_only=True)
    next_cursor = fields.String(dump_only=True, allow_none=True,
                                metadata={"description": "pass as cursor for the next page; null on the last"})


# --- role-based variants, chosen here and nowhere else --------------------------------------------------------------

DETAIL_ONLY = ("history", "conflicts", "attachments")


def record_exclusions(principal: Principal, *, listing: bool) -> tuple[str, ...]:
    """The record keys a principal's view leaves out. The confidential payload appears only in an inspector's
    detail view; non-inspectors never get a `confidential` or `confidential_changes` key at all."""
    if listing:
        return (*DETAIL_ONLY, "confidential")
    if principal.sees_confidential:
        return ()
    return ("confidential", "history.confidential_changes")


def record_schema(principal: Principal) -> RecordSchema:
    return RecordSchema(exclude=record_exclusions(principal, listing=False))


def record_page_schema(principal: Principal) -> RecordPageSchema:
    return RecordPageSchema(exclude=[f"records.{key}" for key in record_exclusions(principal, listing=True)])
