"""Bearer tokens: random, shown once, stored as SHA-256, expiring and revocable."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, select

from ..extensions import db
from ..devices.models import Device
from .models import ApiToken, User

USER_TOKEN_LIFETIME = timedelta(hours=12)
DEVICE_TOKEN_LIFETIME = None  # a tablet's token lasts until the device is revoked


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user_id: int, device_id: int | None = None,
                lifetime: timedelta | None = USER_TOKEN_LIFETIME) -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    row = ApiToken(token_hash=token_hash(token), user_id=user_id, device_id=device_id, created_at=now,
                   expires_at=now + lifetime if lifetime else None)
    db.session.add(row)
    return token, row


def find_token(token: str) -> ApiToken | None:
    return db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))


# Built once; one round trip for what every API request needs (the user's scopes follow in a second, selectin).
_CREDENTIALS = (select(ApiToken, User, Device).join(User, ApiToken.user_id == User.id)
                .outerjoin(Device, ApiToken.device_id == Device.id)
                .where(ApiToken.token_hash == bindparam("token_hash")))


def find_credentials(token: str) -> tuple[ApiToken, User, Device | None] | None:
    """The token row with its user and (for a device token) its device, or None for an unknown token."""
    row = db.session.execute(_CREDENTIALS, {"token_hash": token_hash(token)}).first()
    return tuple(row) if row else None


def revoke_tokens(*, user_id: int | None = None, device_id: int | None = None) -> int:
    now = datetime.now(timezone.utc)
    query = select(ApiToken).where(ApiToken.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    if device_id is not None:
        query = query.where(ApiToken.device_id == device_id)
    rows = list(db.session.scalars(query))
    for row in rows:
        row.revoked_at = now
    return len(rows)
