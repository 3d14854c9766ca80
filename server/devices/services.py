"""Enrollment codes, enrolling a tablet, revoking it, and recording the health a push reports."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from ..accounts.models import User, UserScope
from ..accounts.scope import Scope
from ..accounts.tokens import DEVICE_TOKEN_LIFETIME, issue_token, revoke_tokens
from ..errors import Forbidden, NotFound, Unauthorized, Unprocessable
from ..extensions import db
from ..timeutil import aware, utcnow
from .models import Device, EnrollmentCode

ENROLLMENT_LIFETIME = timedelta(hours=24)
# No 0/O or 1/I/L: codes are read aloud and typed on tablets.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CLOCK_SKEW_FLAG_SECONDS = 300
STALE_AFTER = timedelta(hours=24)  # no push for this long, or something unsent for this long: flag the tablet


def _now() -> datetime:
    return utcnow()


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def create_enrollment(user: User, created_by: User | None = None,
                      lifetime: timedelta = ENROLLMENT_LIFETIME) -> tuple[str, EnrollmentCode]:
    """A one-time code for `user` (a grid administrator), shown as XXXX-XXXX-XXXX; only its hash is stored."""
    if user.role != "grid_admin":
        raise Unprocessable("Only grid administrators use tablets.", {"user": ["must be a grid administrator"]})
    if not user.active:
        raise Unprocessable("This account is disabled.", {"user": ["account disabled"]})
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    row = EnrollmentCode(code_hash=_code_hash(raw), user_id=user.id,
                         created_by_id=created_by.id if created_by else None, expires_at=_now() + lifetime)
    db.session.add(row)
    db.session.flush()
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}", row


def enroll(code: str, label: str | None = None, app_version: str | None = None) -> tuple[Device, str]:
    """Exchange a one-time code for a device and its token. The code is spent even if the response is lost."""
    row = db.session.scalar(select(EnrollmentCode).where(EnrollmentCode.code_hash == _code_hash(code)))
    if row is None or row.used_at is not None or aware(row.expires_at) <= _now():
        raise Unauthorized("The enrollment code is unknown, used or expired; ask your supervisor for a new one.",
                           {"code": ["unknown, used or expired"]})
    if not row.user.active:
        raise Unauthorized("This account is disabled.", {"code": ["account disabled"]})
    device = Device(uid=str(uuid.uuid4()), user_id=row.user_id, label=label, app_version=app_version,
                    enrolled_at=_now(), last_seen_at=_now())
    db.session.add(device)
    db.session.flush()
    row.used_at = _now()
    row.device_id = device.id
    token, _ = issue_token(row.user_id, device_id=device.id, lifetime=DEVICE_TOKEN_LIFETIME)
    db.session.commit()
    return device, token


def get_device(uid: str) -> Device:
    device = db.session.scalar(select(Device).where(Device.uid == uid))
    if device is None:
        raise NotFound(f"No device has the id {uid}.", {"device": ["unknown device"]})
    return device


def revoke_device(device: Device) -> Device:
    """Revoked at once: the token check refuses a revoked device on its very next request."""
    if device.revoked_at is None:
        device.revoked_at = _now()
    revoke_tokens(device_id=device.id)
    db.session.commit()
    return device


def record_health(device_id: int, health: dict, device_time: datetime | None) -> None:
    """Store what a push reports about the tablet; skew = device clock minus server clock, in seconds.
    One UPDATE by id: the push has no use for the Device object, and loading and flushing it cost a push more
    than the statement."""
    now = _now()
    values = {"last_seen_at": now, "last_push_at": now}
    for key in ("outbox_depth", "oldest_unsent_age_s", "failed_attachments", "app_version"):
        if key in health and health[key] is not None:
            values[key] = health[key]
    if device_time is not None:
        values["clock_skew_s"] = round((aware(device_time) - now).total_seconds(), 1)
    db.session.connection().execute(update(Device.__table__).where(Device.__table__.c.id == device_id), values)


def clock_skew_flagged(device: Device) -> bool:
    return device.clock_skew_s is not None and abs(device.clock_skew_s) > CLOCK_SKEW_FLAG_SECONDS


def is_stale(device: Device, now: datetime | None = None) -> bool:
    """No push for 24 h (counted from enrollment until the first push), or the oldest unsent item older than 24 h.
    A revoked tablet is not expected to push, so it is never stale."""
    if device.revoked_at is not None:
        return False
    last = aware(device.last_push_at or device.enrolled_at)
    return ((now or _now()) - last > STALE_AFTER
            or (device.oldest_unsent_age_s or 0) > STALE_AFTER.total_seconds())


def owner_in_scope(scope: Scope, owner: User, *, all_grids: bool) -> bool:
    """Whether `scope` covers the grid administrator's grids: every one (to hand out a code) or any (to see or
    revoke the tablet)."""
    codes = owner.scope_codes
    check = all if all_grids else any
    return bool(codes) and check(scope.allows_grid(code) for code in codes)


def enrollment_for(username: str, scope: Scope | None = None,
                   created_by: User | None = None) -> tuple[str, EnrollmentCode]:
    """A code for the grid administrator `username`, whose grids must all lie in `scope` (None: anywhere);
    committed, since the code is shown to a person at once."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise Unprocessable(f"No user is called {username!r}.", {"username": ["unknown user"]})
    if user.role != "grid_admin":
        raise Unprocessable("Only grid administrators use tablets.", {"username": ["must be a grid administrator"]})
    if scope is not None and not owner_in_scope(scope, user, all_grids=True):
        raise Forbidden(f"{username} works in grids outside your scope.")
    if not user.active:
        raise Unprocessable("This account is disabled.", {"username": ["account disabled"]})
    code, row = create_enrollment(user, created_by=created_by)
    db.session.commit()
    return code, row


def list_devices(scope: Scope | None = None) -> list[Device]:
    """Devices whose owner has a grid in `scope` (None: all), revoked ones included, by owner and enrollment."""
    query = (select(Device).join(Device.user).options(joinedload(Device.user))
             .order_by(User.username, Device.enrolled_at, Device.id))
    if scope is not None and not scope.is_city:
        if not scope.codes:
            return []
        owners = select(UserScope.user_id).where(or_(*(UserScope.code.startswith(code) for code in scope.codes)))
        query = query.where(Device.user_id.in_(owners))
    return list(db.session.scalars(query))


def managed_device(uid: str, scope: Scope | None = None) -> Device:
    """The device `uid` if its owner has a grid in `scope` (None: any device); 404 when unknown or out of scope,
    so that device ids outside one's scope cannot be probed."""
    device = get_device(uid)
    if scope is not None and not owner_in_scope(scope, device.user, all_grids=False):
        raise NotFound(f"No device has the id {uid}.", {"device": ["unknown device"]})
    return device
