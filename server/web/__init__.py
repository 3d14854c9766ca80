"""Server-rendered pages for supervisors, inspectors, city staff and administrators.

This package holds what every page shares: session sign-in, CSRF protection, the language switch and the layout.
Feature pages (review, devices, map) live in their own packages and use `login_required` from web.auth.
"""
from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

from . import assets, auth, i18n

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a supervisor's page may stay open all day
    # The API authenticates with bearer tokens, never cookies, so CSRF cannot reach it; pages are checked here.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

    @app.before_request
    def _check_csrf_on_pages():
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and not request.path.startswith("/api/"):
            csrf.protect()

    i18n.init_app(app)
    app.jinja_env.globals["web_user"] = auth.current_user
    app.register_blueprint(auth.bp)
    app.register_blueprint(assets.bp)
