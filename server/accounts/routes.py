"""accounts API routes: parse with a schema, call a service, dump with a schema."""
from flask import Blueprint, jsonify, request

from ..schemas import json_body
from . import services
from .auth import current_principal, require
from .ratelimit import login_limiter
from .schemas import PrincipalSchema, TokenSchema

bp = Blueprint("accounts", __name__)


@bp.post("/auth/token")
def sign_in():
    """Username and password for a bearer token; failed attempts are limited per username and address."""
    schema = TokenSchema()
    credentials = schema.load(json_body())
    with login_limiter().guard((credentials["username"], request.remote_addr)):
        token, expires_at = services.login(credentials["username"], credentials["password"])
    user = services.get_user(credentials["username"])
    return jsonify(schema.dump({"token": token, "expires_at": expires_at, "user": user}))


@bp.delete("/auth/token")
@require()
def sign_out():
    """Revoke the token this request presents."""
    services.logout(request.headers["Authorization"].partition(" ")[2].strip())
    return "", 204


@bp.get("/auth/me")
@require()
def me():
    return jsonify(PrincipalSchema().dump(current_principal()))
