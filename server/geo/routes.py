"""Grid API routes: parse the request, call a service, send the answer."""
from flask import Blueprint, jsonify, request

from ..errors import BadRequest
from ..http import conditional
from ..schemas import parse_query
from . import services
from .schemas import GRID_CODE, GridFilterSchema, LocateQuerySchema

bp = Blueprint("geo", __name__)
GEOJSON = "application/geo+json"


@bp.get("/grids")
def list_grids():
    filters = parse_query(GridFilterSchema(), request.args)
    revision, etag = services.collection_etag(filters)
    return conditional(etag, lambda: services.grid_collection(filters, revision), GEOJSON)


@bp.get("/grids/locate")
def locate_grid():
    args = parse_query(LocateQuerySchema(), request.args)
    return _geojson(services.locate(args["lon"], args["lat"]))


@bp.get("/grids/<code>")
def get_grid(code: str):
    if not GRID_CODE.regex.match(code):
        raise BadRequest(f"{code!r} is not a grid code.", {"code": [GRID_CODE.error]})
    return _geojson(services.grid_feature(code))


@bp.get("/communities")
def community_tree():
    return jsonify(services.community_tree())


def _geojson(obj):
    response = jsonify(obj)
    response.mimetype = GEOJSON
    return response
