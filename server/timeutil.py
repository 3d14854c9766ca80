"""UTC helpers: the database may hand back naive datetimes (SQLite); they are always UTC."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, milliseconds: the one time format on the wire."""
    if moment is None:
        return None
    return aware(moment).astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
