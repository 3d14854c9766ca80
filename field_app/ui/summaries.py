"""Records and sync results in plain words for the lists (no widgets here)."""
from __future__ import annotations

from .i18n import pick, tr

# the field that best tells records of a category apart, by type preference
_TITLE_TYPES = ("textarea", "text")


def category_label(core, key: str) -> str:
    try:
        return pick(core.form(key).label)
    except Exception:  # a category the server no longer serves
        return key


def record_summary(core, record) -> str:
    """A short line of what the record says (its summary, the person served, the round's time)."""
    if record.receipt:
        return tr("records.receipt")
    fields = record.fields or {}
    for name in ("summary", "description", "subject"):
        if fields.get(name):
            return _short(fields[name])
    for name in ("person", "parties", "households"):
        items = fields.get(name) or []
        if items:
            first = items[0]
            text = first.get("name") or first.get("household") or ""
            return _short(text + (tr("records.and_more", count=len(items) - 1) if len(items) > 1 else ""))
    if fields.get("started_at"):
        from .widgets.fields import show_local_datetime

        return show_local_datetime(fields["started_at"])
    for value in fields.values():
        if isinstance(value, str) and value:
            return _short(value)
    return tr("records.empty")


def record_title(core, record) -> str:
    return f"{category_label(core, record.category)} · {record_summary(core, record)}"


def state_word(state: str) -> str:
    return tr(f"state.{state}")


def result_words(outcome: str, message: str = "", errors=None) -> str:
    from .widgets.fields import words

    text = tr(f"result.{outcome}")
    detail = message or ""
    if errors:
        detail = (detail + " " if detail else "") + words(errors)
    return f"{text}{tr('result.detail', detail=detail) if detail else ''}"


def sync_error_words(kind: str | None, error: str | None) -> str:
    """Why a sync stopped. The core's own message is already plain Chinese; in English we give ours."""
    from .i18n import current_language

    if error and current_language() == "zh":
        return error
    text = tr(f"sync_error.{kind or 'unknown'}")
    if text == f"sync_error.{kind or 'unknown'}":
        text = tr("sync_error.unknown")
    return text


def _short(text, limit: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
