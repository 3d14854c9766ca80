"""The /api/v1 blueprint: feature blueprints nest under it so every API URL shares one prefix."""
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text

from .extensions import db
from .timeutil import iso, utcnow
from .accounts.routes import bp as accounts_bp
from .attachments.routes import bp as attachments_bp
from .devices.routes import bp as devices_bp
from .geo.routes import bp as geo_bp
from .maps.routes import bp as maps_bp
from .openapi import bp as openapi_bp
from .records.routes import bp as records_bp
from .sync.routes import bp as sync_bp

bp = Blueprint("api", __name__, url_prefix="/api/v1")
for feature in (geo_bp, accounts_bp, devices_bp, records_bp, sync_bp, attachments_bp, openapi_bp, maps_bp):
    bp.register_blueprint(feature)


def server_time() -> str:
    return iso(utcnow())


@bp.get("/health")
def health():
    """Liveness and database reachability, for load balancers and the tablet's connectivity probe."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # the whole point is to report any database failure instead of raising
        current_app.logger.exception("health check: database unreachable")
        database = "unavailable"
    body = {"status": "ok" if database == "ok" else "degraded", "database": database,
            "server_time": server_time(), "version": current_app.config.get("VERSION", "0.1.0")}
    return jsonify(body), 200 if database == "ok" else 503


def stamp_server_time(response):
    """Every API answer, errors included, carries the server clock, so tablets can measure skew on any request."""
    if request.path.startswith(bp.url_prefix):
        response.headers["X-Server-Time"] = server_time()
    return response


def init_app(app):
    app.register_blueprint(bp)
    # On the app, not the blueprint: unrouted 404s and 405s under /api/v1 must carry the header too.
    app.after_request(stamp_server_time)
