"""Web sign-in: a session cookie holding the user id, CSRF on every form, rate-limited failures, sign-out.

`login_required(*roles)` guards a page: not signed in → the sign-in page (then back); wrong role → 403 page.
"""
from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from ..accounts.auth import Principal
from ..accounts.models import User
from ..accounts.ratelimit import TooManyRequests, login_limiter
from ..accounts.services import check_password
from ..errors import Unauthorized
from ..extensions import db
from .i18n import translate

bp = Blueprint("web_auth", __name__)

# Where each role starts after signing in.
LANDING = {"supervisor": "/review", "inspector": "/inspect", "city_viewer": "/map", "admin": "/devices"}


def current_user() -> User | None:
    if "web_user" not in g:
        user_id = session.get("user_id")
        user = db.session.get(User, user_id) if user_id else None
        # A disabled account, or a password changed since sign-in, ends the session.
        if user is not None and (not user.active or session.get("pw") != user.password_hash[-16:]):
            session.clear()
            user = None
        g.web_user = user
    return g.web_user


def current_web_principal() -> Principal:
    return Principal(user=current_user())


def login_required(*roles: str):
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                return redirect(url_for("web_auth.login", next=request.full_path.rstrip("?")))
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_roles = roles
        return wrapper

    return decorate


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: never redirect to another host after sign-in.
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        try:
            with login_limiter().guard((username, request.remote_addr)):
                user = check_password(username, password)
            db.session.commit()
            session.clear()
            session["user_id"], session["pw"] = user.id, user.password_hash[-16:]
            session.permanent = False
            return redirect(_safe_next(request.args.get("next")) or LANDING.get(user.role, "/"))
        except TooManyRequests as limited:
            error, status = translate("login.too_many", seconds=limited.headers["Retry-After"]), 429
        except Unauthorized:
            error, status = translate("login.failed"), 401
    return render_template("web/login.html", error=error, username=request.form.get("username", "")), status


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("web_auth.login"))


@bp.get("/")
def index():
    user = current_user()
    if user is None:
        return redirect(url_for("web_auth.login"))
    if user.role in LANDING:
        return redirect(LANDING[user.role])
    return render_template("web/home.html")
