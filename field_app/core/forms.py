"""Forms built from the categories the server serves (GET /api/v1/categories), and client-side validation.

The rules mirror server/records/categories.py closely enough that a record passing here passes there (the server
stays the judge: anything it still rejects comes back as a `rejected` result with field errors).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

FIELD_TYPES = ("text", "textarea", "choice", "multichoice", "date", "datetime", "integer", "boolean", "phone",
               "location", "photos", "people", "households", "record_refs")
LIST_TYPES = ("multichoice", "photos", "people", "households", "record_refs")
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
LOCATION_KEYS = {"lon", "lat", "accuracy_m", "source", "captured_at"}
DEFAULT_MAX_LENGTH = 4000


@dataclass
class FieldSpec:
    name: str
    type: str
    label: dict
    required: bool = False
    choices: list[tuple[str, dict]] = field(default_factory=list)
    item_fields: list[FieldSpec] = field(default_factory=list)
    max_length: int | None = None
    min: int | None = None
    max: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    personal: bool = False
    confidential: bool = False

    @classmethod
    def from_served(cls, spec: dict) -> FieldSpec:
        return cls(name=spec["name"], type=spec["type"], label=dict(spec.get("label") or {}),
                   required=bool(spec.get("required", False)),
                   choices=[(c["value"], dict(c.get("label") or {})) for c in spec.get("choices", [])],
                   item_fields=[cls.from_served(f) for f in spec.get("item_fields", [])],
                   max_length=spec.get("max_length"), min=spec.get("min"), max=spec.get("max"),
                   min_items=spec.get("min_items"), max_items=spec.get("max_items"),
                   personal=bool(spec.get("personal", False)), confidential=bool(spec.get("confidential", False)))

    def text(self, language: str = "zh") -> str:
        return self.label.get(language) or self.label.get("zh") or self.name

    @property
    def choice_values(self) -> list[str]:
        return [value for value, _ in self.choices]


@dataclass
class CategoryForm:
    key: str
    label: dict
    kind: str
    confidential: bool
    fields: list[FieldSpec]

    @classmethod
    def from_served(cls, category: dict) -> CategoryForm:
        return cls(key=category["key"], label=dict(category.get("label") or {}), kind=category.get("kind", ""),
                   confidential=bool(category.get("confidential", False)),
                   fields=[FieldSpec.from_served(f) for f in category["fields"]])

    def text(self, language: str = "zh") -> str:
        return self.label.get(language) or self.label.get("zh") or self.key

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def photo_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.type == "photos"]

    def photo_shas(self, values: dict) -> list[str]:
        return [sha for name in self.photo_fields for sha in (values.get(name) or []) if isinstance(sha, str)]

    def validate(self, values: dict, *, partial: bool = False) -> dict[str, str]:
        """Field name -> plain message (zh); empty when the values would pass the server's checks."""
        return validate_values(self.fields, values, partial=partial)


def forms_from_served(document: dict) -> list[CategoryForm]:
    return [CategoryForm.from_served(c) for c in document.get("categories", [])]


def is_empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def validate_values(specs: list[FieldSpec], values: dict, *, partial: bool = False) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not isinstance(values, dict):
        return {"_": "表单内容格式错误。"}
    known = {spec.name for spec in specs}
    for name in values:
        if name not in known:
            errors[name] = "表单中没有这一项（表单可能已更新，请重新填写）。"
    for spec in specs:
        if spec.name not in values and partial:
            continue
        message = check_value(spec, values.get(spec.name))
        if message:
            errors[spec.name] = message
    return errors


def check_value(spec: FieldSpec, value) -> str | None:
    """None when `value` is acceptable for `spec`, else a plain message (zh)."""
    if is_empty(value):
        return "此项为必填项。" if spec.required else None
    kind = spec.type
    if kind in ("text", "textarea"):
        if not isinstance(value, str):
            return "请填写文字。"
        limit = spec.max_length or DEFAULT_MAX_LENGTH
        return f"最多 {limit} 个字（现在 {len(value)} 个）。" if len(value) > limit else None
    if kind == "choice":
        return None if value in spec.choice_values else "请从选项中选择。"
    if kind == "multichoice":
        if not isinstance(value, list) or any(v not in spec.choice_values for v in value):
            return "请从选项中选择。"
        return None
    if kind == "date":
        try:
            date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return "日期格式应为 年-月-日，例如 2026-11-27。"
        return None if isinstance(value, str) else "日期格式应为 年-月-日，例如 2026-11-27。"
    if kind == "datetime":
        if not isinstance(value, str):
            return "时间格式不正确。"
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "时间格式不正确，例如 2026-11-27T09:30:00+08:00。"
        return None
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "请填写整数。"
        if spec.min is not None and value < spec.min:
            return f"不能小于 {spec.min}。"
        if spec.max is not None and value > spec.max:
            return f"不能大于 {spec.max}。"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else "请选择是或否。"
    if kind == "phone":
        return None if isinstance(value, str) and PHONE.match(value) else "电话号码格式不正确。"
    if kind == "location":
        return _check_location(value)
    # list kinds
    if not isinstance(value, list):
        return "格式不正确。"
    if spec.min_items is not None and len(value) < spec.min_items:
        return f"至少需要 {spec.min_items} 项。"
    if spec.max_items is not None and len(value) > spec.max_items:
        return f"最多 {spec.max_items} 项（现在 {len(value)} 项）。"
    if kind == "photos":
        return None if all(isinstance(v, str) and SHA256_HEX.match(v) for v in value) else "照片数据不正确。"
    if kind == "record_refs":
        for item in value:
            try:
                uuid.UUID(str(item))
            except ValueError:
                return "关联记录编号不正确。"
        return None
    if kind in ("people", "households"):
        for index, item in enumerate(value, start=1):
            if not isinstance(item, dict):
                return f"第 {index} 项格式不正确。"
            item_errors = validate_values(spec.item_fields, item)
            if item_errors:
                name, message = next(iter(item_errors.items()))
                label = next((f.text() for f in spec.item_fields if f.name == name), name)
                return f"第 {index} 项「{label}」：{message}"
        return None
    return f"未知的字段类型 {kind}。"


def _check_location(value) -> str | None:
    if not isinstance(value, dict) or set(value) - LOCATION_KEYS:
        return "位置数据不正确。"
    for key, low, high in (("lon", -180, 180), ("lat", -90, 90)):
        number = value.get(key)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not low <= number <= high:
            return "位置的经纬度不正确。"
    accuracy = value.get("accuracy_m")
    if accuracy is not None and (isinstance(accuracy, bool) or not isinstance(accuracy, (int, float))
                                 or not 0 <= accuracy <= 100000):
        return "位置精度不正确。"
    if value.get("source", "manual") not in ("gps", "manual"):
        return "位置来源不正确。"
    return None
