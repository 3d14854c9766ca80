"""Query arguments of the statistics endpoints and the shape of their answer (for the OpenAPI document)."""
from datetime import date

from marshmallow import fields, validate

from ..schemas import BaseSchema
from .services import LEVELS, MAX_DAYS, METRICS


# Days the statistics can cover; also keeps a window's China-time bounds inside the calendar once turned into UTC.
DAYS = validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31), error="must be between {min} and {max}")


class StatsQuerySchema(BaseSchema):
    metric = fields.String(load_default="records", validate=validate.OneOf(METRICS),
                           metadata={"description": "records | open_cases | overdue | visit_coverage"})
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=32),
                             metadata={"description": "a category key (records, open_cases, overdue only)"})
    first = fields.Date(data_key="from", load_default=None, validate=DAYS,
                        metadata={"description": "first day (China time), included; default: 29 days before `to`"})
    last = fields.Date(data_key="to", load_default=None, validate=DAYS,
                       metadata={"description": f"last day (China time), included; default: today; at most "
                                                f"{MAX_DAYS} days after `from`"})


LEVEL_PARAM = {"type": "string", "enum": list(LEVELS)}
_FIGURES = {"type": "object", "additionalProperties": {"type": "number"},
            "description": "code -> figure, for every active unit in the caller's scope (0 when nothing matched)"}
STATS_RESPONSE = {
    "type": "object",
    "description": "Figures per unit of the level named in the path; the key `grids`, `communities`, `streets` or "
                   "`districts` holds them. No record, name or personal data.",
    "properties": {
        "metric": {"type": "string", "enum": list(METRICS)},
        "category": {"type": "string", "nullable": True},
        "categories": {"type": "array", "items": {"type": "string"}, "description": "the categories counted"},
        "level": LEVEL_PARAM,
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "days": {"type": "integer"},
        "time_basis": {"type": "string", "enum": ["occurred_at"]},
        "timezone": {"type": "string"},
        "unit": {"type": "string", "enum": ["count", "share_of_days"]},
        **{level: _FIGURES for level in LEVELS},
        "max": {"type": "number"},
    },
}
