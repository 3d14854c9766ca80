"""Enrollment codes, enrolling a tablet, revoking it, and recording the health a push reports."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from ..accounts.models import User
from ..accounts.tokens import DEVICE_TOKEN_LIFETIME, issue_token, revoke_tokens
from ..errors import NotFound, Unauthorized, Unprocessable
from ..extensions import db
from ..timeutil import aware, utcnow
from .models import Device, EnrollmentCode

ENROLLMENT_LIFETIME = timedelta(hours=24)
# No 0/O or 1/I/L: codes are read aloud and typed on tablets.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CLOCK_SKEW_FLAG_SECONDS = 300


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


def record_health(device: Device, health: dict, device_time: datetime | None) -> None:
    """Store what a push reports about the tablet; skew = device clock minus server clock, in seconds."""
    now = _now()
    device.last_seen_at = device.last_push_at = now
    for key in ("outbox_depth", "oldest_unsent_age_s", "failed_attachments", "app_version"):
        if key in health and health[key] is not None:
            setattr(device, key, health[key])
    if device_time is not None:
        device.clock_skew_s = round((aware(device_time) - now).total_seconds(), 1)


def clock_skew_flagged(device: Device) -> bool:
    return device.clock_skew_s is not None and abs(device.clock_skew_s) > CLOCK_SKEW_FLAG_SECONDS
