"""Domain objects the core hands to the UI. Plain dataclasses: no SQLite rows, no Kivy properties."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# A record's state on the tablet, shown to the grid administrator in plain words by the UI.
DRAFT = "draft"            # saved locally, not yet submitted
WAITING = "waiting"        # submitted: its mutations wait in the outbox
UPLOADED = "uploaded"      # the server acknowledged every mutation (and has every photo)
RETURNED = "returned"      # a supervisor returned it for correction (status_comment says why)
CONFLICT = "conflict"      # the server kept two values of a field; see `conflicts`
REJECTED = "rejected"      # the server refused a mutation (see `errors`); fix and resend
STATES = (DRAFT, WAITING, UPLOADED, RETURNED, CONFLICT, REJECTED)


@dataclass
class Enrollment:
    server_url: str
    device_uid: str
    token: str
    username: str
    display_name: str
    grids: list[str]


@dataclass
class LocalRecord:
    id: str                              # client-generated UUID, the record's id everywhere
    category: str
    grid_code: str
    fields: dict                         # form values (JSON-ready)
    state: str = DRAFT
    created_at: datetime | None = None   # device clock
    updated_at: datetime | None = None
    server_version: int | None = None    # last version the server acknowledged or sent
    status: str | None = None            # server workflow status (reported, accepted, returned, ...)
    status_comment: str | None = None
    errors: dict = field(default_factory=dict)       # field errors of a rejected mutation
    conflicts: list[dict] = field(default_factory=list)
    receipt: bool = False                # a confidential record whose content was removed after upload
    photos_pending: int = 0              # photos not yet uploaded


@dataclass
class SyncHealth:
    outbox_depth: int
    oldest_unsent_age_s: int | None
    failed_attachments: int
    last_success_at: datetime | None
    last_error: str | None
    clock_offset_s: float | None         # server clock minus device clock, from the last answer


@dataclass
class RecordResult:
    """What happened to one record in a sync, for the UI to put into words."""

    record_id: str
    outcome: str          # applied | duplicate | conflict | rejected | retry | photo_failed
    message: str = ""
    errors: dict = field(default_factory=dict)


@dataclass
class SyncReport:
    ok: bool                       # False when the sync stopped early (network, auth, server error, cancelled)
    pushed: int = 0
    pulled: int = 0
    results: list[RecordResult] = field(default_factory=list)
    error: str | None = None       # plain words when ok is False
    error_kind: str | None = None  # network | timeout | auth | server | bad_response | cancelled | busy
