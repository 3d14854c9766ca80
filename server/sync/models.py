"""What the sync protocol stores for idempotency: acknowledged updates (creates: records.models.RecordChange).
The change log that pulls read is RecordChange too."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..geo.models import utcnow
from ..types import BigIntPK, JSONType


class Mutation(db.Model):
    """An applied (or conflicted) update; the unique mutation_id makes every retry a duplicate, never a copy.
    A create is acknowledged by its record's first version instead (RecordChange.seq and body_sha256, migration
    0007); creates acknowledged before that are here, with a JSON null answer."""

    __tablename__ = "sync_mutations"
    # Only the unique mutation_id is indexed: every extra index on a random UUID costs a push a page write per row.

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    mutation_id: Mapped[str] = mapped_column(String(36), unique=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seq: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[str] = mapped_column(String(36))
    op: Mapped[str] = mapped_column(String(8))
    body_sha256: Mapped[str] = mapped_column(String(64))  # a reused mutation_id with another body is refused
    status: Mapped[str] = mapped_column(String(12))  # applied | conflict
    # The exact answer, sent again for a duplicate (a JSON null for a create stored before migration 0007).
    result: Mapped[dict | None] = mapped_column(JSONType, nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
