"""Record categories as served data: their fields, labels and choices come from categories.json.

The tablet builds its forms from the same document the server validates with, so the two never disagree.
Each category gets a marshmallow schema generated from its field list; values are validated and normalised to
JSON-ready form (dates as ISO strings), because they are stored as JSON.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ..fastcheck import compile_schema
from ..fields import IsoDate, IsoDateTime, UUIDString
from ..schemas import MAX_INT

SOURCE = Path(__file__).with_name("categories.json")
SHA256_HEX = validate.Regexp(r"^[0-9a-f]{64}$", error="must be a SHA-256 in lowercase hex")
PHONE = validate.Regexp(r"^\+?[0-9][0-9 \-]{4,19}$", error="must be a phone number")


class LocationSchema(Schema):
    class Meta:
        unknown = RAISE

    lon = fields.Float(required=True, allow_nan=False, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))
    accuracy_m = fields.Float(allow_nan=False, validate=validate.Range(0, 100000), allow_none=True)
    source = fields.String(validate=validate.OneOf(["gps", "manual"]), load_default="manual")
    captured_at = IsoDateTime(allow_none=True)


def _length(spec: dict):
    if "min_items" in spec or "max_items" in spec:
        return validate.Length(min=spec.get("min_items"), max=spec.get("max_items"))
    return None


def _field(spec: dict) -> fields.Field:
    kind, required = spec["type"], spec.get("required", False)
    common = {"required": required, "allow_none": not required}
    choices = [choice["value"] for choice in spec.get("choices", [])]
    if kind in ("text", "textarea"):
        return fields.String(validate=validate.Length(max=spec.get("max_length", 4000)), **common)
    if kind == "choice":
        return fields.String(validate=validate.OneOf(choices), **common)
    if kind == "multichoice":
        return fields.List(fields.String(validate=validate.OneOf(choices)), **common)
    if kind == "date":
        return IsoDate(**common)
    if kind == "datetime":
        return IsoDateTime(**common)
    if kind == "integer":
        return fields.Integer(strict=True, validate=validate.Range(spec.get("min", -MAX_INT), spec.get("max", MAX_INT)),
                              **common)
    if kind == "boolean":
        return fields.Boolean(truthy={True}, falsy={False}, **common)
    if kind == "phone":
        return fields.String(validate=PHONE, **common)
    if kind == "location":
        return fields.Nested(LocationSchema, **common)
    if kind == "photos":
        return fields.List(fields.String(validate=SHA256_HEX), validate=_length(spec), **common)
    if kind in ("people", "households"):
        item = Schema.from_dict({f["name"]: _field(f) for f in spec["item_fields"]})
        item.Meta.unknown = RAISE
        return fields.Nested(item, many=True, validate=_length(spec), **common)
    if kind == "record_refs":
        return fields.List(UUIDString(), validate=_length(spec), **common)
    raise ValueError(f"unknown field type {kind!r} in {SOURCE.name}")


@dataclass(frozen=True)
class Category:
    key: str
    kind: str
    confidential: bool
    definition: dict

    @functools.cached_property
    def schema(self) -> Schema:
        schema_class = Schema.from_dict({spec["name"]: _field(spec) for spec in self.definition["fields"]},
                                        name=f"{self.key.title().replace('_', '')}Fields")
        return schema_class(unknown=RAISE)

    @functools.cached_property
    def confidential_fields(self) -> frozenset[str]:
        return frozenset(s["name"] for s in self.definition["fields"] if s.get("confidential"))

    @functools.cached_property
    def photo_fields(self) -> tuple[str, ...]:
        return tuple(s["name"] for s in self.definition["fields"] if s["type"] == "photos")

    @functools.cached_property
    def personal_fields(self) -> frozenset[str]:
        return frozenset(s["name"] for s in self.definition["fields"] if s.get("personal"))

    @functools.cached_property
    def fast_check(self):
        """The compiled equivalent of `schema.load` for whole records (see server/fastcheck.py)."""
        return compile_schema(self.schema)

    def load(self, values: object, *, partial: bool) -> dict:
        """Validated, normalised field values; raises ValidationError keyed by field name."""
        if not isinstance(values, dict):
            raise ValidationError(["must be an object of field values"])
        if not partial:
            loaded = self.fast_check(values)
            if loaded is not None:
                return loaded
        return self.schema.load(values, partial=partial)

    def split(self, values: dict) -> tuple[dict, dict]:
        """(ordinary fields, confidential payload)."""
        if not self.confidential_fields:
            return values, {}
        ordinary = {k: v for k, v in values.items() if k not in self.confidential_fields}
        secret = {k: v for k, v in values.items() if k in self.confidential_fields}
        return ordinary, secret

    def attachments(self, values: dict) -> list[str]:
        return [sha for name in self.photo_fields for sha in (values.get(name) or [])]


class Catalogue:
    def __init__(self, document: dict, raw: bytes):
        self.document = document
        self.version = f"{document['version']}-{hashlib.sha256(raw).hexdigest()[:12]}"
        self.categories = {c["key"]: Category(c["key"], c["kind"], c.get("confidential", False), c)
                           for c in document["categories"]}

    def get(self, key: str) -> Category | None:
        return self.categories.get(key)

    def is_confidential(self, key: str) -> bool:
        """Confidential categories, and any category this server does not know (the most restricted reading)."""
        category = self.categories.get(key)
        return category is None or category.confidential

    def served(self) -> dict:
        return {"version": self.version, "field_types": self.document["field_types"],
                "categories": self.document["categories"]}


@functools.lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    raw = SOURCE.read_bytes()
    return Catalogue(json.loads(raw), raw)
