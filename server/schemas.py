"""The project's marshmallow base schema and query-string parsing."""
from marshmallow import RAISE, Schema, ValidationError

from .errors import BadRequest


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
