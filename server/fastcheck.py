"""A compiled fast path for marshmallow schemas on the sync hot path.

marshmallow spends about 2.5 µs on every field of every mutation, which made validation half the cost of a sync
push. `compile_schema` turns a marshmallow schema into msgspec types once, by reading the schema's own fields and
validators. The compiled check accepts only values marshmallow would accept too, and then returns exactly what
marshmallow's `load` returns; anything else (invalid, or merely unusual, like a number sent as a string) answers
None, and the caller falls back to marshmallow, which stays the definition of validity and the source of every
error message. tests/server/test_fastcheck.py holds the two to that with hypothesis.

Only the field kinds our schemas use are compiled; any other raises `NotCompilable` at start-up, never at request
time.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
from marshmallow import RAISE, Schema, fields, missing, validate

from .fields import AwareTime, IsoDate, IsoDateTime, UUIDString, parse_aware, utc_text

Post = Callable[[Any], Any] | None  # turns msgspec's builtins into marshmallow's output, where they differ
_LOWER_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"  # upper case goes the slow way


class NotCompilable(TypeError):
    pass


def _meta_of(validators: list, allowed: tuple[type, ...]) -> dict:
    meta: dict = {}
    for validator in validators:
        if not isinstance(validator, allowed):
            raise NotCompilable(f"validator {validator!r}")
        if isinstance(validator, validate.Length):
            if validator.equal is not None:
                raise NotCompilable("Length(equal=...)")
            if validator.min is not None:
                meta["min_length"] = validator.min
            if validator.max is not None:
                meta["max_length"] = validator.max
        elif isinstance(validator, validate.Range):
            if validator.min is not None:
                meta["ge" if validator.min_inclusive else "gt"] = validator.min
            if validator.max is not None:
                meta["le" if validator.max_inclusive else "lt"] = validator.max
        elif isinstance(validator, validate.Regexp):
            if not validator.regex.pattern.startswith("^"):  # marshmallow matches at the start, msgspec searches
                raise NotCompilable(f"unanchored pattern {validator.regex.pattern!r}")
            meta["pattern"] = validator.regex.pattern
    return meta


def _annotated(kind, meta: dict):
    return Annotated[kind, msgspec.Meta(**meta)] if meta else kind


def _string(field: fields.String):
    choices = [v for v in field.validators if isinstance(v, validate.OneOf)]
    if choices:
        if len(field.validators) > 1:
            raise NotCompilable("OneOf combined with other validators")
        return Literal[tuple(choices[0].choices)]
    return _annotated(str, _meta_of(field.validators, (validate.Length, validate.Regexp)))


def _compile_field(field: fields.Field) -> tuple[Any, Post]:
    # Exact classes only: a subclass (marshmallow's UUID is a String) may load to something else entirely.
    kind = type(field)
    if kind in _PLAIN:
        if field.validators:
            raise NotCompilable(f"validators on {kind.__name__}")
        return _PLAIN[kind]
    if kind is fields.String:
        return _string(field), None
    if kind is fields.Boolean and not field.validators and (not field.truthy or True in field.truthy) \
            and (not field.falsy or False in field.falsy):
        return bool, None  # true and false, which such a Boolean loads as themselves
    if kind is fields.Integer:  # bools, floats and strings take the slow path
        return _annotated(int, _meta_of(field.validators, (validate.Range,))), None
    if kind is fields.Float:
        meta = _meta_of(field.validators, (validate.Range,))
        if not field.allow_nan and not ({"ge", "gt"} & set(meta) and {"le", "lt"} & set(meta)):
            raise NotCompilable("a Float that must be finite needs both bounds")  # NaN and inf fail a bound
        return _annotated(float, meta), None
    if kind is fields.List:
        inner, post = _compile_field(field.inner)
        meta = _meta_of(field.validators, (validate.Length,))
        return _annotated(list[inner], meta), _each(post)
    if kind is fields.Nested:
        inner, post = _compile_struct(field.schema)
        if field.many:
            meta = _meta_of(field.validators, (validate.Length,))
            return _annotated(list[inner], meta), _each(post)
        if field.validators:
            raise NotCompilable("validators on a single Nested")
        return inner, post
    if kind is fields.Dict and field.key_field is None and field.value_field is None and not field.validators:
        # Not `dict`: msgspec would copy the whole document, nested values and all, and so would to_builtins.
        return Any, _mapping
    raise NotCompilable(f"field {kind.__name__}")


def _mapping(value: object) -> dict:
    """What marshmallow's Dict loads an object as: a shallow copy. Anything else (None too) is not for us."""
    if type(value) is not dict:
        raise TypeError("not an object")
    return dict(value)


def _needs_builtins(kind) -> bool:
    """Whether a compiled type holds values (structs, dates) that only to_builtins turns into marshmallow's."""
    if isinstance(kind, type) and (issubclass(kind, msgspec.Struct) or issubclass(kind, datetime.date)):
        return True
    return any(_needs_builtins(arg) for arg in getattr(kind, "__args__", ()) if not isinstance(arg, msgspec.Meta)) \
        or any(_needs_builtins(arg) for arg in getattr(kind, "__metadata__", ()) if isinstance(arg, type))


def _each(post: Post) -> Post:
    return (lambda values: [post(value) for value in values]) if post else None


# Fields without options: their msgspec type and the conversion from msgspec's builtins to marshmallow's output.
_PLAIN: dict[type, tuple[Any, Post]] = {
    UUIDString: (Annotated[str, msgspec.Meta(pattern=_LOWER_UUID)], None),
    AwareTime: (Annotated[str, msgspec.Meta(max_length=40)], parse_aware),
    IsoDateTime: (Annotated[str, msgspec.Meta(max_length=40)], utc_text),
    IsoDate: (datetime.date, None),  # to_builtins writes the same YYYY-MM-DD as date.isoformat()
}


def _compile_struct(schema: Schema, rules_given: bool = False) -> tuple[type, Post]:
    if schema.unknown != RAISE or schema.partial:
        raise NotCompilable("only schemas that reject unknown fields")
    if _has_hooks(schema) and not rules_given:
        raise NotCompilable(f"{type(schema).__name__} has hooks; pass the rules they enforce")
    members, posts, never_none = [], {}, set()
    for name, field in schema.load_fields.items():
        key = field.attribute or name
        if (field.data_key or name) != key:
            raise NotCompilable(f"{name}: a data_key that differs from the output key")
        kind, post = _compile_field(field)
        if post is not None:
            posts[key] = post
            if kind is Any and not field.allow_none:
                never_none.add(key)  # Any lets None through; the post refuses it
        if field.required:
            if field.allow_none:
                kind = kind | None
            members.append((key, kind))
        elif field.load_default is not missing:
            if callable(field.load_default):
                raise NotCompilable(f"{name}: a callable load_default")
            members.append((key, kind | None if field.allow_none else kind, field.load_default))
        else:
            members.append((key, (kind | None if field.allow_none else kind) | msgspec.UnsetType, msgspec.UNSET))
    struct = msgspec.defstruct(f"Fast{type(schema).__name__}", members, forbid_unknown_fields=True, kw_only=True)
    if not posts:
        return struct, None

    def post(values: dict) -> dict:
        for key, fix in posts.items():
            if key in values and (values[key] is not None or key in never_none):
                values[key] = fix(values[key])
        return values
    return struct, post


def _builtins_of(struct: type) -> Callable[[msgspec.Struct], dict]:
    """msgspec.to_builtins, or for a struct of plain values a shallow copy without the unset members, which leaves
    an `Any` member (a document) as it is rather than copying it through."""
    if any(_needs_builtins(kind) for kind in struct.__annotations__.values()):
        return msgspec.to_builtins
    asdict, unset = msgspec.structs.asdict, msgspec.UNSET
    defaults = struct.__struct_defaults__  # aligned with the last members
    optional = [name for name, default in zip(struct.__struct_fields__[len(struct.__struct_fields__) - len(defaults):],
                                              defaults) if default is unset]

    def shallow(value: msgspec.Struct) -> dict:
        values = asdict(value)
        for name in optional:
            if values[name] is unset:
                del values[name]
        return values
    return shallow


def _has_hooks(schema: Schema) -> bool:
    """pre/post-load processors and schema validators, which a compiled check cannot run by itself."""
    return any(hasattr(getattr(type(schema), name, None), "__marshmallow_hook__") for name in dir(type(schema)))


def compile_schema(schema: Schema, rules: Callable[[dict], bool] | None = None) -> Callable[[object], dict | None]:
    """A function returning what `schema.load(value)` would, or None when only marshmallow can tell.

    A schema with hooks (e.g. `@validates_schema`) compiles only with `rules`: a function saying whether the
    loaded values pass them (the schema's validator and `rules` should call one shared function)."""
    struct, post = _compile_struct(schema, rules_given=rules is not None)
    builtins = _builtins_of(struct)

    def check(value: object) -> dict | None:
        try:
            loaded = builtins(msgspec.convert(value, struct))
            loaded = post(loaded) if post else loaded
        except (msgspec.ValidationError, ValueError, TypeError):
            return None
        return loaded if rules is None or rules(loaded) else None
    return check
