"""Bearer tokens: random, shown once, stored as SHA-256, expiring and revocable."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from ..extensions import db
from .models import ApiToken

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
