"""records API routes: parse with a schema, call a service, dump with a schema."""
import json

from flask import Blueprint, jsonify, request

from ..accounts.auth import current_principal, require
from ..schemas import parse_query
from . import queries
from .schemas import RecordQuerySchema, record_page_schema, record_schema

bp = Blueprint("records", __name__)


@bp.get("/categories")
def categories():
    """The served category definitions; public, because forms are not secret and tablets fetch them at enrollment."""
    from ..http import conditional, etag_for, render
    from .categories import catalogue

    served = catalogue()
    return conditional(etag_for("categories", served.version),
                       lambda: render(json.dumps(served.served(), ensure_ascii=False).encode()), "application/json")


@bp.get("/records")
@require(*queries.READ_ROLES)
def list_records():
    """Records in the caller's scope, newest received first, keyset-paged by an opaque cursor."""
    principal = current_principal()
    filters = parse_query(RecordQuerySchema(), request.args)
    return jsonify(record_page_schema(principal).dump(queries.list_records(principal, filters)))


@bp.get("/records/<record_id>")
@require(*queries.READ_ROLES)
def get_record(record_id: str):
    """One record with its history, conflicts and expected attachments; 404 for anything the caller may not read."""
    principal = current_principal()
    return jsonify(record_schema(principal).dump(queries.get_record(principal, record_id)))
