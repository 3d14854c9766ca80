"""Which attachments a record refers to (so the server knows what it still expects)."""
from __future__ import annotations

from sqlalchemy import select

from ..attachments.models import RecordAttachment
from ..extensions import db


def link_attachments(record_id: str, shas: list[str]) -> None:
    if not shas:
        return
    known = set(db.session.scalars(select(RecordAttachment.sha256).where(RecordAttachment.record_id == record_id)))
    for sha in dict.fromkeys(shas):
        if sha not in known:
            db.session.add(RecordAttachment(record_id=record_id, sha256=sha))
