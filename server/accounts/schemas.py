"""Schemas for users, sign-in tokens and the calling principal."""
from __future__ import annotations

from marshmallow import fields, validate

from ..schemas import BaseSchema
from ..timeutil import iso
from .auth import ROLES

GRID_CODE_LENGTH = 15


class UtcDateTime(fields.DateTime):
    """Dumps the one wire time format (timeutil.iso: UTC, milliseconds, Z); SQLite's naive datetimes are UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(value)


class UserSchema(BaseSchema):
    """A user account. Views: sign-in and /auth/me (username, display_name, role, scopes), a tablet's owner
    (username, display_name, grids)."""

    username = fields.String(required=True, validate=validate.Length(1, 64))
    display_name = fields.String(validate=validate.Length(1, 128))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    scopes = fields.List(fields.String(), attribute="scope_codes", required=True)
    grids = fields.Method("_grids", dump_only=True)
    active = fields.Boolean(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    disabled_at = UtcDateTime(dump_only=True)

    @staticmethod
    def _grids(user) -> list[str]:
        return [code for code in user.scope_codes if len(code) == GRID_CODE_LENGTH]


PUBLIC_USER_FIELDS = ("username", "display_name", "role", "scopes")


class TokenSchema(BaseSchema):
    """Signing in: username and password in, a bearer token and the user out."""

    username = fields.String(required=True, load_only=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 1024))
    token = fields.String(dump_only=True)
    token_type = fields.Constant("Bearer", dump_only=True)
    expires_at = UtcDateTime(dump_only=True)
    user = fields.Nested(UserSchema(only=PUBLIC_USER_FIELDS), dump_only=True)


class PrincipalSchema(BaseSchema):
    """Who is calling (GET /auth/me): the user's public fields and, for a tablet's token, the device uid."""

    username = fields.String(attribute="user.username", dump_only=True)
    display_name = fields.String(attribute="user.display_name", dump_only=True)
    role = fields.String(attribute="user.role", dump_only=True)
    scopes = fields.List(fields.String(), attribute="user.scope_codes", dump_only=True)
    device_uid = fields.Function(lambda principal: principal.device.uid if principal.device else None,
                                 dump_only=True)
