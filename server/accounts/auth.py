"""Who is calling: bearer-token authentication and role checks for API routes.

`require(...)` checks the token and role before the view runs and leaves a Principal in `g.principal`; services get
the principal passed in explicitly and never read the request themselves.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import g, request

from ..devices.models import Device
from ..errors import Forbidden, Unauthorized
from ..timeutil import aware
from .models import User
from .scope import Scope
from .tokens import find_credentials

ROLES = ("grid_admin", "supervisor", "inspector", "city_viewer", "admin")
# Roles that may read individual records (within scope); city viewers see aggregates only.
RECORD_READERS = ("grid_admin", "supervisor", "inspector", "admin")


@dataclass
class Principal:
    user: User
    device: Device | None = None  # set when the token is a tablet's device token

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def scope(self) -> Scope:
        return Scope(tuple(self.user.scope_codes))

    @property
    def sees_confidential(self) -> bool:
        return self.user.role == "inspector"


def authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required.", {"Authorization": ["missing or not a Bearer token"]})
    found = find_credentials(token.strip())
    now = datetime.now(timezone.utc)
    row, user, device = found or (None, None, None)
    if row is None or row.revoked_at is not None or (row.expires_at and aware(row.expires_at) <= now):
        raise Unauthorized("The token is unknown, expired or revoked.", {"Authorization": ["invalid token"]})
    if not user.active:
        raise Unauthorized("This account is disabled.", {"Authorization": ["account disabled"]})
    if row.device_id is not None and (device is None or device.revoked_at is not None):
        raise Unauthorized("This device has been revoked.", {"Authorization": ["device revoked"]})
    return Principal(user=user, device=device)


def require(*roles: str, device: bool = False):
    """Decorator: a valid token, one of `roles` (any role when empty), and a device token when `device`."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = authenticate()
            if device and principal.device is None:
                raise Forbidden("This endpoint needs a device token (enroll the tablet first).")
            if roles and principal.role not in roles:
                raise Forbidden(f"The role {principal.role!r} may not do this.")
            g.principal = principal
            return view(*args, **kwargs)

        wrapper.required_roles = roles
        return wrapper

    return decorate


def current_principal() -> Principal:
    return g.principal
