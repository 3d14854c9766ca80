"""Signing in and out, /auth/me, the bearer-token checks every protected endpoint shares, the failed-login limit,
and `flask users create|list|disable`; on SQLite and PostgreSQL."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from factories import (FIRST_COMMUNITY, FIRST_GRID, PASSWORD, assert_error, auth, expired_token, make_device,
                       make_user, user_token)
from server.accounts.ratelimit import FailureLimiter, TooManyRequests
from server.accounts.models import User
from server.accounts.services import disable_user, get_user
from server.errors import Unauthorized, Unprocessable
from server.extensions import db

TOKEN = "/api/v1/auth/token"
ME = "/api/v1/auth/me"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# Every endpoint that needs a bearer token, with a body that would otherwise be acceptable.
PROTECTED = [
    ("get", ME, None),
    ("delete", TOKEN, None),
    ("get", "/api/v1/devices", None),
    ("post", "/api/v1/devices/enrollments", {"username": "nobody"}),
    ("post", "/api/v1/devices/00000000-0000-0000-0000-000000000000/revoke", None),
]


@pytest.fixture(scope="module")
def people(grid_app) -> dict[str, str]:
    """One account per role, made once per backend."""
    return {
        "supervisor": make_user(grid_app, "supervisor", [FIRST_COMMUNITY]),
        "admin": make_user(grid_app, "admin", ["420500"]),
        "grid_admin": make_user(grid_app, "grid_admin", [FIRST_GRID]),
    }


def sign_in(client, username: str, password: str = PASSWORD, **kwargs):
    return client.post(TOKEN, json={"username": username, "password": password}, **kwargs)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- POST /auth/token ---------------------------------------------------------------------------------------

def test_sign_in_returns_a_bearer_token_and_the_user(client, people):
    response = sign_in(client, people["supervisor"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert list(body) == ["token", "token_type", "expires_at", "user"]
    assert body["token_type"] == "Bearer" and len(body["token"]) >= 40
    assert ISO_Z.match(body["expires_at"])
    lifetime = parse_time(body["expires_at"]) - datetime.now(timezone.utc)
    assert timedelta(hours=11, minutes=59) < lifetime <= timedelta(hours=12)
    assert body["user"] == {"username": people["supervisor"], "display_name": people["supervisor"],
                            "role": "supervisor", "scopes": [FIRST_COMMUNITY]}

    me = client.get(ME, headers=auth(body["token"]))
    assert me.status_code == 200
    assert me.get_json() == {**body["user"], "device_uid": None}


def test_wrong_password_unknown_user_and_disabled_account_get_one_vague_401(grid_app, client, people):
    disabled = make_user(grid_app, "grid_admin", [FIRST_GRID])
    with grid_app.app_context():
        disable_user(disabled)
        db.session.commit()
    answers = [sign_in(client, people["admin"], "not-the-password"),
               sign_in(client, "no-such-user-at-all"),
               sign_in(client, disabled)]
    bodies = [assert_error(response, 401) for response in answers]
    assert len({body["message"] for body in bodies}) == 1
    assert "token" not in bodies[0]


@pytest.mark.parametrize("payload,status,fields", [
    ({}, 422, ("username", "password")),
    ({"username": "someone"}, 422, ("password",)),
    ({"username": "someone", "password": "x", "remember": True}, 422, ("remember",)),
    ({"username": 5, "password": "x"}, 422, ("username",)),
    ({"username": "someone", "password": ["x"]}, 422, ("password",)),
    ({"username": "", "password": "x"}, 422, ("username",)),
    ({"username": "nul\x00byte", "password": "x"}, 422, ("username",)),
    ({"username": "u" * 65, "password": "x"}, 422, ("username",)),
])
def test_sign_in_field_errors_are_422_naming_the_field(client, payload, status, fields):
    assert_error(client.post(TOKEN, json=payload), status, *fields)


@pytest.mark.parametrize("data,content_type", [
    ('{"username": "a", "password": ', "application/json"),
    ("", "application/json"),
    ('["username", "password"]', "application/json"),
    ("null", "application/json"),
    ("username=a&password=b", "application/x-www-form-urlencoded"),
    ('{"username": "a", "password": "b"}', "text/plain"),
])
def test_a_body_that_is_not_a_json_object_is_400(client, data, content_type):
    assert_error(client.post(TOKEN, data=data, content_type=content_type), 400)


# --- the bearer-token checks, on every protected endpoint ---------------------------------------------------

def _call(client, method, url, body, headers):
    return getattr(client, method)(url, json=body, headers=headers) if body is not None else \
        getattr(client, method)(url, headers=headers)


@pytest.mark.parametrize("method,url,body", PROTECTED)
def test_missing_or_malformed_authorization_is_401(client, method, url, body):
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer "},
                    {"Authorization": "Bearer not-a-real-token"}):
        assert_error(_call(client, method, url, body, headers), 401, "Authorization")


@pytest.mark.parametrize("method,url,body", PROTECTED)
def test_expired_and_revoked_tokens_are_401(grid_app, client, people, method, url, body):
    expired = expired_token(grid_app, people["admin"])
    assert_error(_call(client, method, url, body, auth(expired)), 401, "Authorization")

    revoked = user_token(grid_app, people["admin"])
    assert client.delete(TOKEN, headers=auth(revoked)).status_code == 204
    assert_error(_call(client, method, url, body, auth(revoked)), 401, "Authorization")


def test_a_disabled_accounts_tokens_stop_working(grid_app, client):
    username = make_user(grid_app, "supervisor", [FIRST_COMMUNITY])
    token = user_token(grid_app, username)
    assert client.get(ME, headers=auth(token)).status_code == 200
    with grid_app.app_context():
        disable_user(username)
        db.session.commit()
    assert_error(client.get(ME, headers=auth(token)), 401)


# --- DELETE /auth/token, GET /auth/me -----------------------------------------------------------------------

def test_sign_out_revokes_only_the_presented_token(grid_app, client, people):
    first = user_token(grid_app, people["grid_admin"])
    second = user_token(grid_app, people["grid_admin"])
    response = client.delete(TOKEN, headers=auth(first))
    assert response.status_code == 204 and response.data == b""
    assert_error(client.get(ME, headers=auth(first)), 401)
    assert_error(client.delete(TOKEN, headers=auth(first)), 401)
    assert client.get(ME, headers=auth(second)).status_code == 200


def test_me_with_a_device_token_names_the_device(grid_app, client, people):
    uid, token = make_device(grid_app, people["grid_admin"])
    body = client.get(ME, headers=auth(token)).get_json()
    assert body == {"username": people["grid_admin"], "display_name": people["grid_admin"], "role": "grid_admin",
                    "scopes": [FIRST_GRID], "device_uid": uid}


# --- the failed sign-in limit -------------------------------------------------------------------------------

def test_ten_failed_sign_ins_lock_that_username_and_address_with_429(grid_app, client):
    username = make_user(grid_app, "inspector", ["420500"])
    attacker = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
    for _ in range(10):
        assert_error(sign_in(client, username, "guess-guess", **attacker), 401)
    locked = sign_in(client, username, "guess-guess", **attacker)
    body = assert_error(locked, 429)
    assert body["code"] == "too_many_requests"
    assert 290 <= int(locked.headers["Retry-After"]) <= 300
    # Even the right password waits out the lock from that address ...
    assert_error(sign_in(client, username, PASSWORD, **attacker), 429)
    # ... while the owner at another address signs in normally.
    assert sign_in(client, username, PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200


def test_limiter_window_reset_and_other_errors():
    now = [1000.0]
    limiter = FailureLimiter(max_failures=3, window=60, clock=lambda: now[0])

    def attempt(key, error=None):
        with limiter.guard(key):
            if error is not None:
                raise error

    for _ in range(3):
        with pytest.raises(Unauthorized):
            attempt("k", Unauthorized("no"))
    with pytest.raises(TooManyRequests) as refused:
        attempt("k")
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "60"}
    now[0] += 30
    with pytest.raises(TooManyRequests) as refused:
        attempt("k")
    assert refused.value.headers == {"Retry-After": "30"}
    assert limiter.failures("other") == 0

    now[0] += 31  # the failures have left the window
    attempt("k")
    assert limiter.failures("k") == 0

    # Errors that are not a wrong password (bad input, a database hiccup) are not counted; success clears the count.
    with pytest.raises(Unprocessable):
        attempt("k", Unprocessable("bad"))
    with pytest.raises(Unauthorized):
        attempt("k", Unauthorized("no"))
    assert limiter.failures("k") == 1
    attempt("k")
    assert limiter.failures("k") == 0


# --- flask users --------------------------------------------------------------------------------------------

@pytest.fixture
def cli(grid_app):
    return grid_app.test_cli_runner()


def test_users_create_with_password_option_then_list(grid_app, cli, client):
    username = f"cli-sup-{uuid.uuid4().hex[:8]}"
    result = cli.invoke(args=["users", "create", username,
                              "--role", "supervisor", "--scope", FIRST_COMMUNITY, "--scope", "420502001002",
                              "--display-name", "王督导", "--password", "a-long-password"])
    assert result.exit_code == 0, result.output
    assert f"created {username} (supervisor, {FIRST_COMMUNITY}, 420502001002)" in result.output
    signed_in = sign_in(client, username, "a-long-password").get_json()
    assert signed_in["user"]["display_name"] == "王督导"

    listing = cli.invoke(args=["users", "list"])
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[0].split() == ["username", "role", "scopes", "active"]
    assert [username, "supervisor", f"{FIRST_COMMUNITY},420502001002", "yes"] in [line.split() for line in lines]


def test_users_create_prompts_for_the_password_twice(grid_app, cli):
    username = f"cli-prompted-{uuid.uuid4().hex[:8]}"
    result = cli.invoke(args=["users", "create", username, "--role", "grid_admin", "--scope", FIRST_GRID],
                        input="prompted-password\nprompted-password\n")
    assert result.exit_code == 0, result.output
    assert "prompted-password" not in result.output  # hidden input is not echoed
    with grid_app.app_context():
        assert get_user(username).role == "grid_admin"

    mismatch = cli.invoke(args=["users", "create", username + "x", "--role", "grid_admin", "--scope", FIRST_GRID],
                          input="one-password\nanother-password\n")
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output


@pytest.mark.parametrize("args,message", [
    (["--role", "boss", "--scope", FIRST_GRID], "Invalid value for '--role'"),
    (["--role", "grid_admin"], "Missing option '--scope'"),
    (["--role", "grid_admin", "--scope", "12345"], "not a city, district, street, community or grid code"),
    (["--role", "grid_admin", "--scope", FIRST_COMMUNITY], "A grid_admin is scoped to grid, not to a community"),
    (["--role", "grid_admin", "--scope", "420502001001999"], "No grid has the code 420502001001999"),
    (["--role", "grid_admin", "--scope", FIRST_GRID, "--password", "short"], "The password is too short"),
    (["--role", "grid_admin", "--scope", FIRST_GRID, "--display-name", "x" * 129], "The display name is too long"),
])
def test_users_create_errors_exit_non_zero_with_a_message(grid_app, cli, args, message):
    if "--password" not in args:
        args = [*args, "--password", "long-enough-password"]
    result = cli.invoke(args=["users", "create", "never-created", *args])
    assert result.exit_code != 0
    assert message in result.output
    with grid_app.app_context():
        assert db.session.scalar(select(User.id).where(User.username == "never-created")) is None


def test_users_create_refuses_a_taken_username(grid_app, cli, people):
    result = cli.invoke(args=["users", "create", people["admin"], "--role", "admin", "--scope", "420500",
                              "--password", "long-enough-password"])
    assert result.exit_code == 1
    assert f"The username {people['admin']!r} is taken" in result.output


def test_users_disable_revokes_tokens_and_device_tokens(grid_app, cli, client):
    username = make_user(grid_app, "grid_admin", [FIRST_GRID])
    token = user_token(grid_app, username)
    _, device_token = make_device(grid_app, username)
    result = cli.invoke(args=["users", "disable", username])
    assert result.exit_code == 0, result.output
    assert f"disabled {username}" in result.output
    for presented in (token, device_token):
        assert_error(client.get(ME, headers=auth(presented)), 401)
    assert [username, "grid_admin", FIRST_GRID, "no"] in [line.split() for line in
                                                          cli.invoke(args=["users", "list"]).output.splitlines()]
    assert_error(sign_in(client, username), 401)

    unknown = cli.invoke(args=["users", "disable", "no-such-user-here"])
    assert unknown.exit_code == 1 and "No user is called 'no-such-user-here'" in unknown.output
