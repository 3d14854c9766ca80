"""Helpers that create real rows through the real services (no mocks), for any test that needs accounts."""
from __future__ import annotations

import uuid

from server.accounts.services import create_user
from server.accounts.tokens import issue_token
from server.devices.services import create_enrollment, enroll
from server.extensions import db

PASSWORD = "wangge-test-pw"
FIRST_GRID = "420502001001001"
FIRST_COMMUNITY = "420502001001"


def make_user(app, role: str = "grid_admin", scopes=(FIRST_GRID,), username: str | None = None,
              password: str = PASSWORD) -> str:
    username = username or f"{role}-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        create_user(username, password, role, list(scopes))
        db.session.commit()
    return username


def user_token(app, username: str) -> str:
    from server.accounts.services import get_user

    with app.app_context():
        token, _ = issue_token(get_user(username).id)
        db.session.commit()
    return token


def make_device(app, username: str, app_version: str = "0.1.0") -> tuple[str, str]:
    """Enroll a tablet for a grid administrator the way a real one does; returns (device uid, device token)."""
    from server.accounts.services import get_user

    with app.app_context():
        code, _ = create_enrollment(get_user(username))
        db.session.commit()
        device, token = enroll(code, label="test tablet", app_version=app_version)
        return device.uid, token


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
