"""Turning stored values into words for the pages: field labels, choice labels, people, places, times."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from ..records.categories import catalogue
from ..timeutil import aware
from ..web.i18n import label, translate
from .deadlines import BEIJING
from .workflow import UP_A_LEVEL


def category_label(key: str) -> str:
    category = catalogue().get(key)
    return label(category.definition.get("label")) if category else key


def field_spec(category_key: str, name: str) -> dict | None:
    category = catalogue().get(category_key)
    if category is None:
        return None
    return next((spec for spec in category.definition["fields"] if spec["name"] == name), None)


def field_specs(category_key: str) -> list[dict]:
    category = catalogue().get(category_key)
    return list(category.definition["fields"]) if category else []


def field_label(category_key: str, name: str) -> str:
    if name in ("status", "grid_code", "dispatched_to"):
        return translate(f"review.field.{name}")
    spec = field_spec(category_key, name)
    return label(spec.get("label")) if spec else name


def _choice(spec: dict, value) -> str:
    for choice in spec.get("choices", []):
        if choice["value"] == value:
            return label(choice.get("label"))
    return str(value)


def format_value(spec: dict | None, value, name: str | None = None) -> str:
    """One value as text for a page or a CSV cell."""
    if value is None or value == "" or value == []:
        return "—"
    if name == "status":
        return translate(f"status.{value}")
    if name == "dispatched_to":
        return translate("review.up_a_level") if value == UP_A_LEVEL else str(value)
    if spec is None:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    kind = spec["type"]
    if kind == "choice":
        return _choice(spec, value)
    if kind == "multichoice":
        return "、".join(_choice(spec, item) for item in value)
    if kind == "boolean":
        return translate("common.yes") if value else translate("common.no")
    if kind == "location":
        text = f"{value.get('lon'):.5f}, {value.get('lat'):.5f}"
        if value.get("accuracy_m") is not None:
            text += f" (±{value['accuracy_m']:.0f} m)"
        return text
    if kind == "datetime":
        return local_time(value)
    if kind in ("people", "households"):
        items = {item_spec["name"]: item_spec for item_spec in spec.get("item_fields", [])}
        return "；".join(
            "，".join(format_value(items.get(key), item_value, key) for key, item_value in entry.items()
                     if item_value not in (None, ""))
            for entry in value)
    if kind == "photos":
        return translate("review.photo_count", n=len(value))
    if kind == "record_refs":
        return "、".join(ref[:8] for ref in value)
    return str(value)


def local_time(moment: datetime | str | None, with_seconds: bool = False) -> str:
    """Beijing time, as people in Yichang read it."""
    if moment is None:
        return "—"
    text = moment if isinstance(moment, str) else None
    try:
        if text is not None:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return aware(moment).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")
    except (ValueError, OverflowError):  # not a time, or one that Beijing time pushes past year 9999
        return text if text is not None else moment.isoformat()


def duration(delta: timedelta | float | int | None) -> str:
    """A compact duration: 3天4小时, 5小时20分 / 3d 4h, 5h 20m."""
    if delta is None:
        return "—"
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return translate("time.days_hours", d=days, h=hours)
    if hours:
        return translate("time.hours_minutes", h=hours, m=minutes)
    return translate("time.minutes", m=minutes)


def summary(record) -> str:
    """A line that tells records apart in a list (never personal or confidential fields)."""
    content = record.content or {}
    category = catalogue().get(record.category)
    if category is None or category.confidential:
        return ""
    parts = []
    for name in ("dispute_type", "service_type", "summary", "outcome", "note"):
        if content.get(name) and name not in category.personal_fields:
            parts.append(format_value(field_spec(record.category, name), content[name], name))
        if len(parts) >= 2:
            break
    if record.category == "visit_round" and content.get("households"):
        parts.insert(0, translate("review.households", n=len(content["households"])))
    text = " · ".join(parts)
    return text if len(text) <= 60 else text[:59] + "…"
