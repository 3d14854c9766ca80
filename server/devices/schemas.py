"""Schemas for tablets: enrollment codes, enrolling, and a device with its sync health."""
from __future__ import annotations

from marshmallow import fields, validate

from ..accounts.schemas import UserSchema, UtcDateTime
from ..schemas import BaseSchema
from . import services


def qr_text(server_url: str, code: str) -> str:
    """What the enrollment QR code holds; the tablet reads the server address and the code from it."""
    return f"wangge://enroll?server={server_url.rstrip('/')}&code={code}"


class DeviceSchema(BaseSchema):
    """A tablet and the health its last push reported. The enroll answer shows only uid, label, app_version and
    enrolled_at."""

    uid = fields.String(dump_only=True)
    label = fields.String(allow_none=True, validate=validate.Length(max=128))
    owner = fields.String(attribute="user.username", dump_only=True)
    app_version = fields.String(allow_none=True, validate=validate.Length(max=32))
    enrolled_at = UtcDateTime(dump_only=True)
    last_seen_at = UtcDateTime(dump_only=True)
    last_push_at = UtcDateTime(dump_only=True)
    outbox_depth = fields.Integer(dump_only=True)
    oldest_unsent_age_s = fields.Integer(dump_only=True)
    failed_attachments = fields.Integer(dump_only=True)
    clock_skew_s = fields.Float(dump_only=True)
    revoked_at = UtcDateTime(dump_only=True)
    flags = fields.Function(lambda device: {"stale": services.is_stale(device),
                                            "clock_skew": services.clock_skew_flagged(device)}, dump_only=True)


ENROLLED_DEVICE_FIELDS = ("uid", "label", "app_version", "enrolled_at")


class EnrollmentSchema(BaseSchema):
    """A one-time enrollment code for a grid administrator (POST /devices/enrollments)."""

    username = fields.String(required=True, validate=validate.Length(1, 64))
    code = fields.String(dump_only=True)
    expires_at = UtcDateTime(dump_only=True)
    qr_text = fields.String(dump_only=True)


class EnrollSchema(BaseSchema):
    """A tablet trading its code for a device token (POST /devices/enroll). The code is typed freely: case, spaces
    and dashes do not matter."""

    code = fields.String(required=True, load_only=True, validate=validate.Length(1, 64))
    label = fields.String(load_only=True, allow_none=True, validate=validate.Length(max=128))
    app_version = fields.String(load_only=True, allow_none=True, validate=validate.Length(max=32))
    device = fields.Nested(DeviceSchema(only=ENROLLED_DEVICE_FIELDS), dump_only=True)
    token = fields.String(dump_only=True)
    user = fields.Nested(UserSchema(only=("username", "display_name", "grids")), dump_only=True)
