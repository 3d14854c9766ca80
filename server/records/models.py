"""Records and their history.

A record's id is the tablet's UUID. Content fields live in `content` (JSON); an integrity concern's confidential
content (subject, description, evidence, ...) lives apart in `confidential`, so it can later become a ciphertext the
server cannot read, while routing metadata (grid, category, times, urgency) stays in ordinary columns.
Nothing is overwritten: every version has a RecordChange with old and new values.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..geo.models import utcnow
from ..types import JSONType

STATUSES = ("reported", "accepted", "returned", "not_accepted", "dispatched", "handled", "verified", "closed")


class Record(db.Model):
    __tablename__ = "records"
    __table_args__ = (
        Index("ix_records_community_received", "community_code", "received_at"),
        Index("ix_records_street_received", "street_code", "received_at"),
        Index("ix_records_district_received", "district_code", "received_at"),
        Index("ix_records_grid_received", "grid_code", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # category, created_by_id and device_id are not indexed: no query needs it, and every push would pay for it.
    category: Mapped[str] = mapped_column(String(32))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    # The hierarchy codes are copied onto the record so scope filters are plain indexed equality tests.
    grid_code: Mapped[str] = mapped_column(String(15))
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    district_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(20), default="reported")
    status_comment: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    content: Mapped[dict] = mapped_column(JSONType, default=dict)
    confidential: Mapped[dict | None] = mapped_column(JSONType)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # device clock
    occurred_at_server_est: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # corrected by offset
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    open_conflicts: Mapped[int] = mapped_column(Integer, default=0)

    changes: Mapped[list[RecordChange]] = relationship(back_populates="record", order_by="RecordChange.version")


class RecordChange(db.Model):
    """One version of a record: who, when, which fields, old and new values (and conflicts, both sides).

    It is also the change log that tablets pull: rows are written only under the write lock
    (sync/changelog.py), so ids grow in commit order, and pull cursors point at them, filtered by grid."""

    __tablename__ = "record_changes"
    __table_args__ = (UniqueConstraint("record_id", "version"),  # also the index for a record's history
                      UniqueConstraint("mutation_id"),  # a mutation makes at most one version
                      Index("ix_record_changes_grid_id", "grid_code", "id"))  # a pull of some grids, in order

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"))
    version: Mapped[int] = mapped_column(Integer)
    grid_code: Mapped[str] = mapped_column(String(15))  # the record's grid as of this version (what pulls filter by)
    kind: Mapped[str] = mapped_column(String(16))  # create | update | merge | conflict | status | resubmit
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    mutation_id: Mapped[str | None] = mapped_column(String(36))
    # A create pushed by a tablet is acknowledged by its first version itself: its seq and body hash are kept here
    # (sync/services.py), not in a sync_mutations row of their own, which cost every pushed record a fourth row.
    seq: Mapped[int | None] = mapped_column(Integer)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    # {field: {"old": ..., "new": ...}} for ordinary fields and workflow columns.
    changes: Mapped[dict] = mapped_column(JSONType, default=dict)
    # The same for confidential fields, kept apart so it can be encrypted with the record's confidential payload.
    confidential_changes: Mapped[dict | None] = mapped_column(JSONType)
    comment: Mapped[str | None] = mapped_column(Text)

    record: Mapped[Record] = relationship(back_populates="changes")


class RecordConflict(db.Model):
    """Two edits of the same field made on different bases: both values kept until someone resolves it."""

    __tablename__ = "record_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    base_version: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)  # the version the conflicting edit produced
    server_value: Mapped[object | None] = mapped_column(JSONType)  # what the record held before the edit
    device_value: Mapped[object | None] = mapped_column(JSONType)  # what the edit wrote (the record now holds it)
    mutation_id: Mapped[str | None] = mapped_column(String(36))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AuditEvent(db.Model):
    """Reads of confidential records (and other sensitive actions): who, when, what."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    action: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(36), index=True)
    detail: Mapped[dict | None] = mapped_column(JSONType)
