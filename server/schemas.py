"""The project's marshmallow base schema and query-string parsing."""
from flask import request
from marshmallow import RAISE, Schema, ValidationError

from .errors import BadRequest


# The largest value an INTEGER column holds on PostgreSQL (and well inside SQLite's): bigger client numbers are a
# 422 naming the field, not a database error.
MAX_INT = 2**31 - 1


class BaseSchema(Schema):
    """Shared options: unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = RAISE


def parse_query(schema: Schema, args) -> dict:
    """Load query-string arguments; a bad argument is the client's mistake in the URL, so 400 rather than 422."""
    try:
        return schema.load(args.to_dict(flat=True))
    except ValidationError as error:
        raise BadRequest("The query string has invalid arguments.", error.messages) from error


def json_body() -> dict:
    """The request's JSON object; anything else (no body, not JSON, a list) is a 400 naming the body."""
    data = request.get_json(silent=True)
    if data is None:
        # Distinguish "not JSON at all" from "JSON null" only in the message; both are the client's mistake.
        raise BadRequest("The body must be a JSON object (Content-Type: application/json).",
                         {"body": ["malformed or missing JSON"]})
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", {"body": ["must be a JSON object"]})
    return data
