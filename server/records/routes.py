"""records API routes: parse with a schema, call a service, dump with a schema."""
import json

from flask import Blueprint

bp = Blueprint("records", __name__)


@bp.get("/categories")
def categories():
    """The served category definitions; public, because forms are not secret and tablets fetch them at enrollment."""
    from ..http import conditional, etag_for, render
    from .categories import catalogue

    served = catalogue()
    return conditional(etag_for("categories", served.version),
                       lambda: render(json.dumps(served.served(), ensure_ascii=False).encode()), "application/json")
