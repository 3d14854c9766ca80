"""Tables of the review feature: configurable time limits and each case's stage clock.

`CaseClock` remembers when a record entered its current workflow stage (set by every transition), so deadlines and
overdue counts are plain indexed comparisons. A record that never went through a transition has no clock: its
accept stage started when it arrived (`received_at`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..records.models import Record
from ..timeutil import utcnow

# The queue of an administrator (city scope) pages over all records by arrival: needs its own index.
Index("ix_records_received_at", Record.received_at)


class TimeLimit(db.Model):
    """How long a stage of a category may take: `hours` of wall-clock time, or of working days (Mon-Fri, Beijing
    time) when `working_days`."""

    __tablename__ = "time_limits"
    __table_args__ = (UniqueConstraint("category", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(16))  # accept | handle | verify | close
    hours: Mapped[float] = mapped_column(Float)
    working_days: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CaseClock(db.Model):
    """The stage clock of one record: the stage it applies to, when it started, and the last dispatch target.

    Written by every transition. Dispatch keeps the handle clock running (the handle limit counts from acceptance).
    A record back in `reported` while its clock says `returned` was corrected on the tablet and resubmitted: its
    accept clock restarted with that resubmission (its `updated_at`)."""

    __tablename__ = "case_clocks"

    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(20))  # accept | handle | verify | close, or a status without a stage
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    dispatched_to: Mapped[str | None] = mapped_column(Text)
