"""devices API routes: parse with a schema, call a service, dump with a schema."""
from flask import Blueprint, jsonify, request

from ..accounts.auth import current_principal, require
from ..schemas import json_body
from . import services
from .schemas import DeviceSchema, EnrollmentSchema, EnrollSchema, qr_text

bp = Blueprint("devices", __name__)


@bp.post("/devices/enrollments")
@require("supervisor", "admin")
def create_enrollment():
    """A one-time code for a grid administrator whose grids all lie in the caller's scope."""
    schema = EnrollmentSchema()
    args = schema.load(json_body())
    principal = current_principal()
    code, row = services.enrollment_for(args["username"], scope=principal.scope, created_by=principal.user)
    # url_root is host_url plus the prefix the app is mounted under (if any): where the tablet finds /api/v1.
    body = {"code": code, "expires_at": row.expires_at, "username": row.user.username,
            "qr_text": qr_text(request.url_root, code)}
    return jsonify(schema.dump(body)), 201


@bp.post("/devices/enroll")
def enroll():
    """No token: the one-time code is the credential (401 when unknown, used or expired)."""
    schema = EnrollSchema()
    args = schema.load(json_body())
    device, token = services.enroll(args["code"], label=args.get("label"), app_version=args.get("app_version"))
    return jsonify(schema.dump({"device": device, "token": token, "user": device.user})), 201


@bp.get("/devices")
@require("supervisor", "admin")
def list_devices():
    return jsonify({"devices": DeviceSchema(many=True).dump(services.list_devices(current_principal().scope))})


@bp.post("/devices/<uid>/revoke")
@require("supervisor", "admin")
def revoke_device(uid: str):
    device = services.revoke_device(services.managed_device(uid, current_principal().scope))
    return jsonify(DeviceSchema().dump(device))
