"""Wire schemas of the sync protocol (see docs/sync-protocol.md)."""
from marshmallow import ValidationError, fields, validate, validates_schema

from ..fastcheck import compile_schema
from ..fields import AwareTime, UUIDString
from ..schemas import MAX_INT, BaseSchema

MAX_BATCH = 500


class HealthSchema(BaseSchema):
    outbox_depth = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_INT), allow_none=True)
    oldest_unsent_age_s = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_INT), allow_none=True)
    failed_attachments = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_INT), allow_none=True)
    app_version = fields.String(validate=validate.Length(max=32), allow_none=True)


class RawList(fields.Field):
    """A JSON array whose items are validated later, one by one (fields.List(fields.Raw()) visits each item here
    for nothing: a microsecond and a half a mutation)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        return value


class PushSchema(BaseSchema):
    """The envelope; each mutation is validated on its own so one bad item cannot sink the batch."""

    device_time = AwareTime(allow_none=True)
    health = fields.Nested(HealthSchema, load_default=dict)
    mutations = RawList(required=True,
                            validate=validate.Length(max=MAX_BATCH, error=f"at most {MAX_BATCH} mutations a push"))


class MutationSchema(BaseSchema):
    mutation_id = UUIDString(required=True)
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_INT))
    record_id = UUIDString(required=True)
    op = fields.String(required=True, validate=validate.OneOf(["create", "update"]))
    base_version = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_INT), allow_none=True)
    category = fields.String(validate=validate.Length(max=32))
    grid_code = fields.String(validate=validate.Regexp(r"^\d{15}$", error="must be a 15-digit grid code"))
    device_time = AwareTime(required=True)
    server_time_est = AwareTime(allow_none=True)
    # JSON object keys are always strings, so the keys need no field of their own (it costs 6 µs a mutation).
    fields_ = fields.Dict(data_key="fields", attribute="fields", required=True)

    @validates_schema
    def _op_rules(self, data, **kwargs):
        errors = op_rule_errors(data)
        if errors:
            raise ValidationError(errors)


def op_rule_errors(data: dict) -> dict:
    """What a create and an update each need beyond the field types."""
    if data.get("op") == "create":
        errors = {name: ["required for a create"] for name in ("category", "grid_code") if not data.get(name)}
        if data.get("base_version") is not None:
            errors["base_version"] = ["must be empty for a create"]
        return errors
    if data.get("op") == "update" and data.get("base_version") is None:
        return {"base_version": ["required for an update"]}
    return {}


_mutation_schema = MutationSchema()
_fast_mutation = compile_schema(_mutation_schema, rules=lambda data: not op_rule_errors(data))


def load_mutation(raw: object) -> dict:
    """What MutationSchema().load(raw) returns (or raises), by the compiled fast path when it can tell."""
    return _fast_mutation(raw) or _mutation_schema.load(raw)


class PullQuerySchema(BaseSchema):
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))
