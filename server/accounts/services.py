"""Account services: creating users with a role and scope, checking passwords, issuing and revoking tokens."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from ..errors import Conflict, NotFound, Unauthorized, Unprocessable
from ..extensions import db
from ..geo.models import Community, District, Grid, Street
from .auth import ROLES
from .models import User, UserScope
from .passwords import hash_password, needs_rehash, verify_password
from .scope import scope_level
from .tokens import find_token, issue_token, revoke_tokens

MIN_PASSWORD_LENGTH = 8
# Which scope levels make sense for each role (domain.md: roles and scopes).
ALLOWED_LEVELS = {
    "grid_admin": {"grid"},
    "supervisor": {"community", "street"},
    "inspector": {"district", "city"},
    "city_viewer": {"city", "district"},
    "admin": {"city"},
}


def _check_scope_codes(role: str, codes: list[str]) -> None:
    if not codes:
        raise Unprocessable("A user needs at least one scope code.", {"scopes": ["at least one code is required"]})
    models = {"district": District, "street": Street, "community": Community, "grid": Grid}
    for code in codes:
        level = scope_level(code)
        if level is None:
            raise Unprocessable(f"{code!r} is not a city, district, street, community or grid code.",
                                {"scopes": [f"{code}: not a hierarchy code"]})
        if level not in ALLOWED_LEVELS[role]:
            allowed = ", ".join(sorted(ALLOWED_LEVELS[role]))
            raise Unprocessable(f"A {role} is scoped to {allowed}, not to a {level}.",
                                {"scopes": [f"{code}: a {role} needs a {allowed} code"]})
        if level != "city" and db.session.scalar(select(models[level].id).where(models[level].code == code)) is None:
            raise Unprocessable(f"No {level} has the code {code}.", {"scopes": [f"{code}: unknown {level}"]})


def create_user(username: str, password: str, role: str, scopes: list[str],
                display_name: str | None = None) -> User:
    if role not in ROLES:
        raise Unprocessable(f"Unknown role {role!r}.", {"role": [f"must be one of {', '.join(ROLES)}"]})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Unprocessable("The password is too short.",
                            {"password": [f"must be at least {MIN_PASSWORD_LENGTH} characters"]})
    if not username or len(username) > 64:
        raise Unprocessable("The username must be 1-64 characters.", {"username": ["must be 1-64 characters"]})
    if display_name is not None and len(display_name) > 128:
        raise Unprocessable("The display name is too long.", {"display_name": ["must be at most 128 characters"]})
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"The username {username!r} is taken.", {"username": ["already exists"]})
    _check_scope_codes(role, scopes)
    user = User(username=username, display_name=display_name or username, role=role,
                password_hash=hash_password(password), active=True,
                scopes=[UserScope(code=code) for code in dict.fromkeys(scopes)])
    db.session.add(user)
    db.session.flush()
    return user


def get_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user is called {username!r}.", {"username": ["unknown user"]})
    return user


def check_password(username: str, password: str) -> User:
    """The user if the password is right and the account active; one vague error otherwise (no user probing)."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not verify_password(user.password_hash, password):
        raise Unauthorized("Wrong username or password, or the account is disabled.",
                           {"password": ["wrong username or password"]})
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def login(username: str, password: str) -> tuple[str, datetime | None]:
    user = check_password(username, password)
    token, row = issue_token(user.id)
    db.session.commit()
    return token, row.expires_at


def logout(token: str) -> None:
    """Revoke the one bearer token presented (signing out); other tokens of the user stay valid."""
    row = find_token(token)
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(timezone.utc)
    db.session.commit()


def disable_user(username: str) -> User:
    user = get_user(username)
    user.active = False
    user.disabled_at = datetime.now(timezone.utc)
    revoke_tokens(user_id=user.id)
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))
