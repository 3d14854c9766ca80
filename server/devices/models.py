"""A device acts for exactly one grid administrator; its health is what its last push reported."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..extensions import db
from ..geo.models import utcnow


class Device(db.Model):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)  # public id, a UUID
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(128))
    app_version: Mapped[str | None] = mapped_column(String(32))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Health as reported with the last push, so supervisors see backlogs, not only the last sync time.
    last_push_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outbox_depth: Mapped[int | None] = mapped_column(Integer)
    oldest_unsent_age_s: Mapped[int | None] = mapped_column(Integer)
    failed_attachments: Mapped[int | None] = mapped_column(Integer)
    clock_skew_s: Mapped[float | None] = mapped_column(Float)

    user: Mapped[User] = relationship()


class EnrollmentCode(db.Model):
    """A one-time code a supervisor hands to a grid administrator; stored hashed, usable once, expiring."""

    __tablename__ = "enrollment_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
