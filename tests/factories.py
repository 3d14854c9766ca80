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


def enrollment_code(app, username: str, lifetime=None) -> str:
    """A one-time enrollment code for a grid administrator, made through the service (lifetime: a timedelta)."""
    from server.accounts.services import get_user

    with app.app_context():
        kwargs = {"lifetime": lifetime} if lifetime is not None else {}
        code, _ = create_enrollment(get_user(username), **kwargs)
        db.session.commit()
    return code


def expired_token(app, username: str) -> str:
    """A user token that expired a second ago."""
    from datetime import timedelta

    from server.accounts.services import get_user

    with app.app_context():
        token, _ = issue_token(get_user(username).id, lifetime=timedelta(seconds=-1))
        db.session.commit()
    return token


def assert_error(response, status: int, *fields: str) -> dict:
    """The response is the one JSON error shape with `status`, naming each of `fields` in its errors."""
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert set(body) == {"code", "status", "message", "errors"} and body["status"] == status, body
    assert body["message"], body
    for field in fields:
        assert field in body["errors"], (field, body)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), response.headers
    return body


def push_record(client, token: str, category: str, grid_code: str, fields: dict, *, record_id: str | None = None,
                op: str = "create", base_version: int | None = None, expect: str | None = "applied") -> dict:
    """Push one mutation through the real sync endpoint with a device token; returns its per-mutation result.

    A create by default; `op="update"` with `record_id` and `base_version` for an edit (category and grid_code are
    then left out unless given). `expect` asserts the result's status (None: do not check).
    """
    from datetime import datetime, timezone

    global _push_seq
    _push_seq += 1
    mutation = {"mutation_id": str(uuid.uuid4()), "seq": _push_seq, "record_id": record_id or str(uuid.uuid4()),
                "op": op, "device_time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "fields": fields}
    if op == "create":
        mutation.update(category=category, grid_code=grid_code)
    else:
        mutation["base_version"] = base_version
        if grid_code:
            mutation["grid_code"] = grid_code
    response = client.post("/api/v1/sync/push", json={"mutations": [mutation]}, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    result = response.get_json()["results"][0]
    if expect is not None:
        assert result["status"] == expect, result
    return result


_push_seq = 0


def csrf_from(html: bytes | str) -> str:
    """The CSRF token a server-rendered form carries (what a browser would send back)."""
    import re

    text = html.decode() if isinstance(html, bytes) else html
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def web_login(client, username: str, password: str = PASSWORD):
    """Sign in through the real form, CSRF token included; returns the response to the POST."""
    token = csrf_from(client.get("/login").data)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


# --- review pages (tests/web) -----------------------------------------------------------------------------------------

def make_tablet(app, grid_code: str) -> tuple[str, str, str]:
    """A grid administrator for `grid_code` with an enrolled tablet: (username, device uid, device token)."""
    username = make_user(app, "grid_admin", scopes=[grid_code])
    uid, token = make_device(app, username)
    return username, uid, token


def pushed_record(app, token: str, grid_code: str, category: str = "mediation", fields: dict | None = None) -> str:
    """Push one new record from a tablet through the real sync endpoint; returns its id."""
    from sync_support import integrity_fields, mediation_fields

    if fields is None:
        fields = integrity_fields() if category == "integrity" else mediation_fields()
    return push_record(app.test_client(), token, category, grid_code, fields)["record_id"]


def signed_in(app, role: str, scopes) -> tuple[object, str]:
    """A test client signed in through the real form as a new user of `role`: (client, username)."""
    client = app.test_client()
    username = make_user(app, role, scopes=list(scopes))
    response = web_login(client, username)
    assert response.status_code == 302, response.status_code
    return client, username


def set_record_times(app, record_id: str, **times) -> None:
    """Move a record's received_at / updated_at (datetimes) to put it behind or ahead of its deadline."""
    from server.records.models import Record

    with app.app_context():
        record = db.session.get(Record, record_id)
        for name, value in times.items():
            setattr(record, name, value)
        db.session.commit()
