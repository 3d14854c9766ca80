"""Sync routes: only translation between HTTP and the sync services."""
from flask import Blueprint, Response, jsonify, request

from ..accounts.auth import current_principal, require
from ..gcpause import gc_paused
from ..jsontext import dumps_bytes
from ..schemas import items_with_nul, json_body, parse_query
from . import services
from .schemas import PullQuerySchema, PushSchema

bp = Blueprint("sync", __name__)


@bp.post("/sync/push")
@require("grid_admin", device=True)
def push():
    with gc_paused():
        envelope = PushSchema().load(json_body(items="mutations"))
        answer = services.push(current_principal(), envelope, items_with_nul(envelope["mutations"]))
        return Response(dumps_bytes(answer), mimetype="application/json")  # 500 answers: msgspec, not json


@bp.get("/sync/pull")
@require("grid_admin", device=True)
def pull():
    args = parse_query(PullQuerySchema(), request.args)
    return jsonify(services.pull(current_principal(), args.get("cursor"), args["limit"]))
