"""The compiled fast path never disagrees with marshmallow: what it accepts, marshmallow loads to the same value.

The values are built from categories.json the way a tablet fills a form, then some are spoiled (wrong types,
out-of-range numbers, nulls, missing and unknown fields, odd but valid spellings), so both sides of every rule get
exercised. The tablet-shaped values must also take the fast path, or the speed-up would silently be gone.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.fastcheck import NotCompilable, compile_schema
from server.records.categories import catalogue
from server.sync.schemas import MutationSchema, load_mutation

CATEGORIES = sorted(catalogue().categories)
SHA = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
UUID = st.uuids().map(str)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
                       | st.text(max_size=8), lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
TIMES = st.one_of(
    st.datetimes().map(lambda moment: moment.isoformat()),  # naive: taken as UTC
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.datetimes().map(lambda moment: moment.isoformat(timespec="seconds") + "Z"),
    st.text(max_size=12))
TABLET_TIMES = st.datetimes().map(lambda moment: moment.isoformat(timespec="seconds") + "Z")


def _valid(spec: dict, tablet: bool = False) -> st.SearchStrategy:
    """Mostly valid values; `tablet` keeps to what the field app writes (lower-case ids, UTC times)."""
    kind = spec["type"]
    choices = [choice["value"] for choice in spec.get("choices", [])]
    sized = {"min_size": spec.get("min_items", 0), "max_size": min(spec.get("max_items", 3), 3)}
    if kind in ("text", "textarea"):
        limit = spec.get("max_length", 4000)
        return st.text(max_size=12) | st.text(min_size=limit - 1, max_size=limit + 1, alphabet="网格ab")
    if kind == "choice":
        return st.sampled_from(choices)
    if kind == "multichoice":
        return st.lists(st.sampled_from(choices), max_size=3)
    if kind == "date":
        return st.dates().map(lambda day: day.isoformat())
    if kind == "datetime":
        return TABLET_TIMES if tablet else TIMES
    if kind == "integer":
        return st.integers(spec.get("min", -5) - 1, spec.get("max", 5) + 1)
    if kind == "boolean":
        return st.booleans()
    if kind == "phone":
        return st.from_regex(r"\+?[0-9][0-9 \-]{4,19}", fullmatch=True)
    if kind == "location":
        return st.fixed_dictionaries(
            {"lon": st.floats(-181, 181) | st.integers(-181, 181), "lat": st.floats(-91, 91)},
            optional={"accuracy_m": st.none() | st.floats(-1, 100001), "source": st.sampled_from(["gps", "manual"]),
                      "captured_at": st.none() | (TABLET_TIMES if tablet else TIMES)})
    if kind == "photos":
        return st.lists(SHA if tablet else SHA | SHA.map(str.upper), **sized)
    if kind in ("people", "households"):
        return st.lists(_object(spec["item_fields"], tablet), **sized)
    if kind == "record_refs":
        return st.lists(UUID if tablet else UUID | UUID.map(str.upper), **sized)
    raise AssertionError(kind)


def _object(specs: list[dict], tablet: bool = False) -> st.SearchStrategy:
    return st.fixed_dictionaries({s["name"]: _valid(s, tablet) for s in specs if s.get("required")},
                                 optional={s["name"]: _valid(s, tablet) for s in specs if not s.get("required")})


@st.composite
def _spoiled(draw, values: st.SearchStrategy, names: list[str]) -> object:
    value = dict(draw(values))
    for _ in range(draw(st.integers(0, 2))):
        how = draw(st.sampled_from(["replace", "drop", "null", "unknown", "stringify"]))
        name = draw(st.sampled_from(names))
        if how == "replace":
            value[name] = draw(JSONISH)
        elif how == "drop":
            value.pop(name, None)
        elif how == "null":
            value[name] = None
        elif how == "unknown":
            value[draw(st.text(min_size=1, max_size=6))] = draw(JSONISH)
        elif name in value:
            value[name] = str(value[name])
    return value


def _assert_agrees(check, schema: Schema, value: object) -> None:
    fast = check(value)
    try:
        slow = schema.load(value)
    except ValidationError:
        assert fast is None, f"the fast path accepted what marshmallow rejects: {value!r}"
        return
    assert fast is None or fast == slow, (value, fast, slow)


@pytest.mark.parametrize("key", CATEGORIES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_category_fast_path_agrees_with_marshmallow(key, data):
    category = catalogue().get(key)
    names = [spec["name"] for spec in category.definition["fields"]]
    value = data.draw(_spoiled(_object(category.definition["fields"]), names))
    _assert_agrees(category.fast_check, category.schema, value)


def _mutation(fields_of: st.SearchStrategy) -> st.SearchStrategy:
    create = st.fixed_dictionaries({
        "mutation_id": UUID, "seq": st.integers(0, 10**6), "record_id": UUID, "op": st.just("create"),
        "category": st.sampled_from(CATEGORIES), "grid_code": st.from_regex(r"\d{15}", fullmatch=True),
        "device_time": TIMES, "fields": fields_of}, optional={"server_time_est": st.none() | TIMES})
    update = st.fixed_dictionaries({
        "mutation_id": UUID, "seq": st.integers(0, 10**6), "record_id": UUID, "op": st.just("update"),
        "base_version": st.integers(1, 50), "device_time": TIMES, "fields": fields_of},
        optional={"grid_code": st.from_regex(r"\d{15}", fullmatch=True)})
    return create | update


MUTATION_KEYS = ["mutation_id", "seq", "record_id", "op", "category", "grid_code", "device_time", "fields",
                 "base_version", "server_time_est"]


@settings(max_examples=500, deadline=None)
@given(value=_spoiled(_mutation(st.dictionaries(st.text(max_size=5), JSONISH, max_size=3)), MUTATION_KEYS))
def test_mutation_fast_path_agrees_with_marshmallow(value):
    from server.sync.schemas import _fast_mutation

    _assert_agrees(_fast_mutation, MutationSchema(), value)
    try:
        expected = MutationSchema().load(value)
    except ValidationError as error:
        with pytest.raises(ValidationError) as raised:
            load_mutation(value)
        assert raised.value.messages == error.messages  # errors always come from marshmallow
    else:
        assert load_mutation(value) == expected


@pytest.mark.parametrize("key", CATEGORIES)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_tablet_shaped_values_take_the_fast_path(key, data):
    """What the field app sends (lower-case ids, UTC times, in-range values) never needs marshmallow."""
    from sync_support import create

    category = catalogue().get(key)
    values = data.draw(_object(category.definition["fields"], tablet=True))
    assume(not category.schema.validate(values))  # the strategy also draws a few out-of-range values
    assert category.fast_check(values) == category.schema.load(values)
    mutation = create(category=key, fields=values)
    from server.sync.schemas import _fast_mutation
    assert _fast_mutation(mutation) == MutationSchema().load(mutation)


def test_what_cannot_be_compiled_is_refused_at_start_up():
    class WithEmail(Schema):
        email = fields.Email()

    class WithHook(Schema):
        name = fields.String()

        @validates_schema
        def _rule(self, data, **kwargs):
            pass

    class Unanchored(Schema):
        code = fields.String(validate=validate.Regexp(r"\d+"))

    class WithUUID(Schema):  # a String subclass that loads to uuid.UUID
        id = fields.UUID()

    class YesNo(Schema):
        answer = fields.Boolean(truthy={"yes"}, falsy={"no"})

    class NestedHook(Schema):
        inner = fields.Nested(WithHook)

    for schema in (WithEmail(), WithHook(), Unanchored(), WithUUID(), YesNo(), NestedHook()):
        with pytest.raises(NotCompilable):
            compile_schema(schema)
    assert compile_schema(WithHook(), rules=lambda data: True)({"name": "x"}) == {"name": "x"}
    with pytest.raises(NotCompilable):
        compile_schema(NestedHook(), rules=lambda data: True)  # the rules cover the outer schema only


@pytest.mark.parametrize("fields", [None, [], "x", 1, {}])
def test_a_mutation_whose_fields_are_not_an_object_is_judged_by_marshmallow(fields):
    """`fields` is compiled as Any (not copied by msgspec); the post step must still refuse None and non-objects."""
    from server.sync.schemas import _fast_mutation

    mutation = {"mutation_id": "0" * 8 + "-0000-7000-8000-" + "0" * 12, "seq": 1, "record_id": "1" * 8 +
                "-1111-4111-8111-" + "1" * 12, "op": "create", "category": "mediation",
                "grid_code": "420502001001001", "device_time": "2026-11-27T10:00:00Z", "fields": fields}
    _assert_agrees(_fast_mutation, MutationSchema(), mutation)
    assert (_fast_mutation(mutation) is None) == (fields != {})
