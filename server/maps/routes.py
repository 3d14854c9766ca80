"""The statistics API (bearer token), the map page and its session twin of the statistics (same service).

    GET /api/v1/stats/<level>?metric=&category=&from=&to=    level: grids | communities | streets | districts
    GET /map                                                 the page (session sign-in)
    GET /map/stats/<level>.json?...                          what the page's script fetches (session sign-in)
"""
from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..accounts.auth import Principal, current_principal, require
from ..errors import Forbidden, NotFound, ServiceError, Unauthorized
from ..schemas import parse_query
from ..web.auth import current_user, login_required
from ..web.i18n import label, translate
from . import services
from .schemas import StatsQuerySchema

bp = Blueprint("maps", __name__)  # nested under /api/v1
pages = Blueprint("maps_pages", __name__)
data = Blueprint("maps_data", __name__)


def _stats_response(principal: Principal, level: str):
    if level not in services.LEVELS:
        raise NotFound(f"No statistics level {level!r}.", {"level": [f"must be one of {', '.join(services.LEVELS)}"]})
    args = parse_query(StatsQuerySchema(), request.args)
    body = services.stats(principal, args["metric"], level, args["category"], args["first"], args["last"])
    response = jsonify(body)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/stats/<level>")
@require(*services.STATS_ROLES)
def stats(level: str):
    return _stats_response(current_principal(), level)


# --- pages ----------------------------------------------------------------------------------------------------------

def tile_settings() -> dict:
    """Optional basemap tiles (e.g. Tianditu with its key, or OpenStreetMap); none by default (plain background).
    Use WGS84/CGCS2000 tiles only (OpenStreetMap, Tianditu): GCJ-02 tiles would shift every grid."""
    config = current_app.config
    return {"url": config.get("MAP_TILE_URL") or os.environ.get("MAP_TILE_URL") or "",
            "attribution": config.get("MAP_TILE_ATTRIBUTION") or os.environ.get("MAP_TILE_ATTRIBUTION") or "",
            "subdomains": config.get("MAP_TILE_SUBDOMAINS") or os.environ.get("MAP_TILE_SUBDOMAINS") or "abc"}


STRINGS = ("no_data", "per_street", "grid", "community", "street", "district", "community_total",
           "community_mean", "loading", "error", "window", "basis", "coverage_note", "other_metrics", "households")


def page_config(principal: Principal) -> dict:
    today = services.today_in_china()
    window = services.resolve_window(None, today)
    choices = services.category_choices(principal)
    return {
        "metrics": [{"key": key, "label": translate(f"map.metric.{key}")} for key in services.METRICS],
        "category_metrics": list(services.CATEGORY_METRICS),
        "categories": [{"key": key, "label": label(services.catalogue().get(key).definition.get("label")),
                        "confidential": services.catalogue().get(key).confidential} for key in choices],
        "confidential_level": services.CONFIDENTIAL_FINEST.get(principal.role),
        "from": window.first.isoformat(), "to": window.last.isoformat(),
        "grids_url": "/api/v1/grids", "stats_url": "/map/stats/{level}.json",
        "tiles": tile_settings(),
        "strings": {key: translate(f"map.{key}") for key in STRINGS},
    }


@pages.get("/map")
@login_required(*services.STATS_ROLES)
def map_page():
    principal = Principal(user=current_user())
    return render_template("maps/map.html", config=page_config(principal))


@data.get("/map/stats/<level>.json")
def map_stats(level: str):
    user = current_user()
    if user is None:
        raise Unauthorized("Sign in first.")
    if user.role not in services.STATS_ROLES:
        raise Forbidden(f"The role {user.role!r} does not see statistics.")
    return _stats_response(Principal(user=user), level)


def _json_error(status: int, code: str, message: str, errors: dict | None = None):
    response = jsonify({"code": code, "status": status, "message": message, "errors": errors or {}})
    response.status_code = status
    return response


@data.errorhandler(ServiceError)
def _service_error(error: ServiceError):
    # The script always wants JSON, whatever the browser's Accept header says; and no Bearer challenge here.
    return _json_error(error.status, error.code, error.message, error.errors)


@data.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _json_error(error.code or 500, (error.name or "error").lower().replace(" ", "_"), error.description or "")
