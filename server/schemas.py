"""The project's marshmallow base schema, query-string and JSON-body parsing, and the NUL-character guard.

PostgreSQL cannot store a NUL character in text (nor \\u0000 in JSONB), so one reaching the database would be a
500. Paths, query strings and forms are checked before any view runs; JSON bodies only when their raw bytes hold a
\\u0000 escape (the only way JSON can carry a NUL), which costs a byte search, not a walk of every value.
"""
from flask import request
from marshmallow import RAISE, Schema, ValidationError

from .errors import BadRequest, Unprocessable


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


NUL_ERROR = "must not contain NUL characters"


def nul_paths(value: object, path: str = "") -> list[str]:
    """Dotted paths of the keys and text in a JSON value that hold a NUL character."""
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found += ([where] if "\x00" in str(key) else []) + nul_paths(item, where)
        return found
    if isinstance(value, list):
        return [found for index, item in enumerate(value)
                for found in nul_paths(item, f"{path}.{index}" if path else str(index))]
    return []


def body_may_contain_nul() -> bool:
    return b"\\u0000" in request.get_data(cache=True)


def items_with_nul(items: list) -> dict[int, dict]:
    """For a batch whose body may hold a NUL: {index: errors naming the fields} of the items that do."""
    if not body_may_contain_nul():
        return {}
    return {index: {path: [NUL_ERROR] for path in found}
            for index, item in enumerate(items) if (found := nul_paths(item))}


def reject_nul_arguments() -> None:
    """Before every request: a NUL in the path, a query argument or a form field is a 400 naming it."""
    where = ["path"] if "\x00" in request.path else []
    sources = [request.args]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form)
    where += [name for source in sources for name, value in source.items(multi=True)
              if "\x00" in name or "\x00" in value]
    if where:
        raise BadRequest("Text must not contain NUL characters.", {name: [NUL_ERROR] for name in where})


def json_body(items: str | None = None) -> dict:
    """The request's JSON object; anything else (no body, not JSON, a list) is a 400 naming the body.
    NUL characters are a 422 naming where they are, except inside the list `items`, whose elements are judged one
    by one (see items_with_nul)."""
    data = request.get_json(silent=True)
    if data is None:
        # Distinguish "not JSON at all" from "JSON null" only in the message; both are the client's mistake.
        raise BadRequest("The body must be a JSON object (Content-Type: application/json).",
                         {"body": ["malformed or missing JSON"]})
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", {"body": ["must be a JSON object"]})
    if body_may_contain_nul():
        found = nul_paths({key: value for key, value in data.items() if key != items})
        if found:  # a field's value, like any other invalid field: 422
            raise Unprocessable("Text must not contain NUL characters.", {path: [NUL_ERROR] for path in found[:20]})
    return data
