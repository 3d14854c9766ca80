"""Tablets: enrollment codes (scope, single use, expiry, forgiving typing), enrolling, the device list with its
health flags, revocation taking effect at once, and `flask devices ...`; on SQLite and PostgreSQL."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from factories import (FIRST_COMMUNITY, FIRST_GRID, PASSWORD, assert_error, auth, enrollment_code, make_device,
                       make_user, user_token)
from server.accounts.scope import Scope
from server.devices import services
from server.extensions import db
from server.timeutil import utcnow

ENROLLMENTS = "/api/v1/devices/enrollments"
ENROLL = "/api/v1/devices/enroll"
DEVICES = "/api/v1/devices"
ME = "/api/v1/auth/me"
OTHER_COMMUNITY = "420502001002"
OTHER_GRID = "420502001002001"
CODE = re.compile(r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$")
DEVICE_FIELDS = ["uid", "label", "owner", "app_version", "enrolled_at", "last_seen_at", "last_push_at",
                 "outbox_depth", "oldest_unsent_age_s", "failed_attachments", "clock_skew_s", "revoked_at", "flags"]


@pytest.fixture(scope="module")
def people(grid_app) -> dict[str, str]:
    """Accounts made once per backend: two supervisors of neighbouring communities, and grid administrators in the
    first community, the second one, and across both."""
    return {
        "supervisor": make_user(grid_app, "supervisor", [FIRST_COMMUNITY]),
        "other_supervisor": make_user(grid_app, "supervisor", [OTHER_COMMUNITY]),
        "admin": make_user(grid_app, "admin", ["420500"]),
        "inspector": make_user(grid_app, "inspector", ["420500"]),
        "grid_admin": make_user(grid_app, "grid_admin", [FIRST_GRID]),
        "other_grid_admin": make_user(grid_app, "grid_admin", [OTHER_GRID]),
        "straddling": make_user(grid_app, "grid_admin", [FIRST_GRID, OTHER_GRID]),
    }


@pytest.fixture(scope="module")
def tokens(grid_app, people) -> dict[str, str]:
    return {role: user_token(grid_app, username) for role, username in people.items()}


def request_code(client, tokens, who: str, username: str):
    return client.post(ENROLLMENTS, json={"username": username}, headers=auth(tokens[who]))


# --- POST /devices/enrollments ------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_supervisor_or_admin_creates_an_enrollment_code(client, people, tokens, who):
    response = request_code(client, tokens, who, people["grid_admin"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert list(body) == ["username", "code", "expires_at", "qr_text"]
    assert CODE.match(body["code"]) and body["username"] == people["grid_admin"]
    assert body["qr_text"] == f"wangge://enroll?server=http://localhost&code={body['code']}"
    assert body["expires_at"].endswith("Z")


def test_qr_text_names_the_host_the_request_came_to(client, people, tokens):
    response = client.post(ENROLLMENTS, json={"username": people["grid_admin"]}, headers=auth(tokens["supervisor"]),
                           base_url="https://wangge.example.cn:8443")
    body = response.get_json()
    assert body["qr_text"] == f"wangge://enroll?server=https://wangge.example.cn:8443&code={body['code']}"


def test_admin_may_create_codes_anywhere_supervisor_only_in_scope(client, people, tokens):
    assert request_code(client, tokens, "admin", people["straddling"]).status_code == 201
    assert request_code(client, tokens, "other_supervisor", people["other_grid_admin"]).status_code == 201
    assert_error(request_code(client, tokens, "supervisor", people["other_grid_admin"]), 403)
    # Some of this grid administrator's grids lie outside the supervisor's community.
    assert_error(request_code(client, tokens, "supervisor", people["straddling"]), 403)


@pytest.mark.parametrize("who", ["grid_admin", "inspector"])
def test_other_roles_may_not_create_codes(client, people, tokens, who):
    body = assert_error(request_code(client, tokens, who, people["grid_admin"]), 403)
    assert body["code"] == "forbidden"


@pytest.mark.parametrize("payload,field", [
    ({"username": "nobody-is-called-this"}, "username"),
    ({}, "username"),
    ({"username": 42}, "username"),
    ({"username": ""}, "username"),
    ({"username": "x", "grid": FIRST_GRID}, "grid"),
])
def test_enrollment_request_field_errors_are_422(client, tokens, payload, field):
    assert_error(client.post(ENROLLMENTS, json=payload, headers=auth(tokens["supervisor"])), 422, field)


def test_codes_are_only_for_active_grid_administrators(grid_app, client, people, tokens):
    assert_error(request_code(client, tokens, "admin", people["supervisor"]), 422, "username")
    disabled = make_user(grid_app, "grid_admin", [FIRST_GRID])
    assert client.post("/api/v1/auth/token", json={"username": disabled, "password": PASSWORD}).status_code == 200
    assert grid_app.test_cli_runner().invoke(args=["users", "disable", disabled]).exit_code == 0
    assert_error(request_code(client, tokens, "admin", disabled), 422, "username")


def test_enrollment_request_malformed_json_is_400(client, tokens):
    response = client.post(ENROLLMENTS, data='{"username": ', content_type="application/json",
                           headers=auth(tokens["supervisor"]))
    assert_error(response, 400)


# --- POST /devices/enroll -----------------------------------------------------------------------------------

def test_enroll_with_a_code_typed_loosely_then_use_the_device_token(client, people, tokens):
    code = request_code(client, tokens, "supervisor", people["grid_admin"]).get_json()["code"]
    typed = code.replace("-", " ").lower()  # "abcd efgh jkmn", as read aloud and typed on a tablet
    response = client.post(ENROLL, json={"code": typed, "label": "网格平板 01", "app_version": "0.3.1"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert list(body) == ["device", "token", "user"]
    device = body["device"]
    assert list(device) == ["uid", "label", "app_version", "enrolled_at"]
    assert device["label"] == "网格平板 01" and device["app_version"] == "0.3.1" and device["enrolled_at"].endswith("Z")
    assert body["user"] == {"username": people["grid_admin"], "display_name": people["grid_admin"],
                            "grids": [FIRST_GRID]}

    me = client.get(ME, headers=auth(body["token"])).get_json()
    assert me["device_uid"] == device["uid"] and me["username"] == people["grid_admin"]

    # Single use: the same code again, however typed, is refused.
    for again in (code, typed, code.replace("-", "")):
        assert_error(client.post(ENROLL, json={"code": again}), 401, "code")


def test_label_and_app_version_are_optional(grid_app, client, people):
    code = enrollment_code(grid_app, people["other_grid_admin"])
    response = client.post(ENROLL, json={"code": code})
    assert response.status_code == 201
    assert response.get_json()["device"]["label"] is None


def test_expired_and_unknown_codes_are_401(grid_app, client, people):
    expired = enrollment_code(grid_app, people["grid_admin"], lifetime=timedelta(seconds=-1))
    body = assert_error(client.post(ENROLL, json={"code": expired}), 401, "code")
    assert "ask your supervisor" in body["message"]
    assert_error(client.post(ENROLL, json={"code": "AAAA-BBBB-CCCC"}), 401, "code")
    assert_error(client.post(ENROLL, json={"code": "-- --"}), 401, "code")


@pytest.mark.parametrize("payload,field", [
    ({}, "code"),
    ({"code": 123456789012}, "code"),
    ({"code": "AAAA-BBBB-CCCC", "label": "x" * 129}, "label"),
    ({"code": "AAAA-BBBB-CCCC", "app_version": "1" * 33}, "app_version"),
    ({"code": "AAAA-BBBB-CCCC", "label": "a\x00b"}, "label"),
    ({"code": "AAAA-BBBB-CCCC", "user": "someone"}, "user"),
])
def test_enroll_field_errors_are_422(client, payload, field):
    assert_error(client.post(ENROLL, json=payload), 422, field)


def test_enroll_rejects_a_body_that_is_not_a_json_object(client):
    assert_error(client.post(ENROLL, data="{code", content_type="application/json"), 400)
    assert_error(client.post(ENROLL, data="code=AAAA", content_type="application/x-www-form-urlencoded"), 400)
    assert_error(client.post(ENROLL, json=["AAAA-BBBB-CCCC"]), 400)


# --- GET /devices -------------------------------------------------------------------------------------------

def _set_health(app, uid: str, **values):
    with app.app_context():
        device = services.get_device(uid)
        for key, value in values.items():
            setattr(device, key, value)
        db.session.commit()


def _listed(client, token) -> dict[str, dict]:
    response = client.get(DEVICES, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert list(body) == ["devices"]
    return {device["uid"]: device for device in body["devices"]}


def test_device_list_is_scoped_and_reports_health_and_flags(grid_app, client, people, tokens):
    now = utcnow()
    fresh, _ = make_device(grid_app, people["grid_admin"], app_version="0.2.0")
    silent, _ = make_device(grid_app, people["grid_admin"])
    backlog, _ = make_device(grid_app, people["grid_admin"])
    skewed, _ = make_device(grid_app, people["straddling"])
    elsewhere, _ = make_device(grid_app, people["other_grid_admin"])
    _set_health(grid_app, fresh, last_push_at=now - timedelta(hours=2), outbox_depth=3, oldest_unsent_age_s=600,
                failed_attachments=1, clock_skew_s=-12.5)
    _set_health(grid_app, silent, enrolled_at=now - timedelta(days=3), last_push_at=now - timedelta(hours=25))
    _set_health(grid_app, backlog, last_push_at=now - timedelta(minutes=5), outbox_depth=40,
                oldest_unsent_age_s=90000)
    _set_health(grid_app, skewed, last_push_at=now, clock_skew_s=301.0)

    mine = _listed(client, tokens["supervisor"])
    assert {fresh, silent, backlog, skewed} <= set(mine) and elsewhere not in mine
    assert skewed in _listed(client, tokens["other_supervisor"])  # a grid in each community: both see it
    assert {fresh, silent, backlog, skewed, elsewhere} <= set(_listed(client, tokens["admin"]))

    row = mine[fresh]
    assert list(row) == DEVICE_FIELDS
    assert row["owner"] == people["grid_admin"] and row["app_version"] == "0.2.0"
    assert (row["outbox_depth"], row["oldest_unsent_age_s"], row["failed_attachments"], row["clock_skew_s"]) == \
        (3, 600, 1, -12.5)
    assert row["last_push_at"].endswith("Z") and row["revoked_at"] is None
    assert row["flags"] == {"stale": False, "clock_skew": False}
    assert mine[silent]["flags"] == {"stale": True, "clock_skew": False}
    assert mine[backlog]["flags"] == {"stale": True, "clock_skew": False}
    assert mine[skewed]["flags"] == {"stale": False, "clock_skew": True}


def test_a_new_device_that_never_pushed_is_stale_only_after_a_day():
    device = services.Device(enrolled_at=utcnow() - timedelta(hours=23))
    assert not services.is_stale(device)
    device.enrolled_at = utcnow() - timedelta(hours=25)
    assert services.is_stale(device)
    device.revoked_at = utcnow()
    assert not services.is_stale(device)


@pytest.mark.parametrize("who", ["grid_admin", "inspector"])
def test_other_roles_may_not_list_devices(client, tokens, who):
    assert_error(client.get(DEVICES, headers=auth(tokens[who])), 403)


def test_a_device_token_may_not_list_devices(grid_app, client, people):
    _, token = make_device(grid_app, people["grid_admin"])
    assert_error(client.get(DEVICES, headers=auth(token)), 403)


# --- POST /devices/<uid>/revoke -----------------------------------------------------------------------------

def test_revoking_a_device_refuses_its_token_at_once(grid_app, client, people, tokens):
    uid, token = make_device(grid_app, people["grid_admin"])
    assert client.get(ME, headers=auth(token)).status_code == 200
    response = client.post(f"{DEVICES}/{uid}/revoke", headers=auth(tokens["supervisor"]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert list(body) == DEVICE_FIELDS and body["uid"] == uid and body["revoked_at"].endswith("Z")
    assert body["flags"]["stale"] is False

    denied = assert_error(client.get(ME, headers=auth(token)), 401, "Authorization")
    assert denied["code"] == "unauthorized"
    # Revoking again changes nothing.
    again = client.post(f"{DEVICES}/{uid}/revoke", headers=auth(tokens["admin"]))
    assert again.status_code == 200 and again.get_json()["revoked_at"] == body["revoked_at"]
    assert _listed(client, tokens["supervisor"])[uid]["revoked_at"] == body["revoked_at"]


def test_a_revoked_device_is_refused_even_if_its_token_row_was_missed(grid_app, client, people):
    uid, token = make_device(grid_app, people["grid_admin"])
    _set_health(grid_app, uid, revoked_at=utcnow())  # only the device row: the auth check looks at both
    assert_error(client.get(ME, headers=auth(token)), 401)


def test_revoke_scope_role_and_unknown_device(grid_app, client, people, tokens):
    uid, token = make_device(grid_app, people["other_grid_admin"])
    # Out of scope looks exactly like unknown: device ids cannot be probed.
    assert_error(client.post(f"{DEVICES}/{uid}/revoke", headers=auth(tokens["supervisor"])), 404)
    assert_error(client.post(f"{DEVICES}/{uid}/revoke", headers=auth(tokens["grid_admin"])), 403)
    assert_error(client.post(f"{DEVICES}/{uid}/revoke", headers=auth(token)), 403)  # a tablet cannot revoke
    assert client.get(ME, headers=auth(token)).status_code == 200
    assert_error(client.post(f"{DEVICES}/00000000-0000-0000-0000-000000000000/revoke",
                             headers=auth(tokens["admin"])), 404)
    # A supervisor may revoke a tablet whose owner works partly in their community.
    straddling, _ = make_device(grid_app, people["straddling"])
    assert client.post(f"{DEVICES}/{straddling}/revoke", headers=auth(tokens["supervisor"])).status_code == 200


def test_scope_rules_in_the_service(grid_app, people):
    with grid_app.app_context():
        owner = services.get_device(make_device(grid_app, people["straddling"])[0]).user
        community = Scope((FIRST_COMMUNITY,))
        assert services.owner_in_scope(community, owner, all_grids=False)
        assert not services.owner_in_scope(community, owner, all_grids=True)
        assert services.owner_in_scope(Scope(("420500",)), owner, all_grids=True)
        assert services.list_devices(Scope(())) == []


# --- flask devices ------------------------------------------------------------------------------------------

def test_cli_enrollment_code_list_and_revoke(grid_app, client, people):
    cli = grid_app.test_cli_runner()
    result = cli.invoke(args=["devices", "enrollment-code", people["other_grid_admin"],
                              "--server", "http://10.0.0.5:5000/"])
    assert result.exit_code == 0, result.output
    code = re.search(r"code:\s+(\S+)", result.output).group(1)
    assert CODE.match(code)
    assert f"qr text: wangge://enroll?server=http://10.0.0.5:5000&code={code}" in result.output
    enrolled = client.post(ENROLL, json={"code": code, "label": "cli tablet"}).get_json()
    uid, token = enrolled["device"]["uid"], enrolled["token"]

    listing = cli.invoke(args=["devices", "list"])
    assert listing.exit_code == 0
    assert listing.output.splitlines()[0].split()[:4] == ["uid", "owner", "label", "app"]
    line = next(line for line in listing.output.splitlines() if line.startswith(uid))
    assert people["other_grid_admin"] in line and "never" in line

    revoked = cli.invoke(args=["devices", "revoke", uid])
    assert revoked.exit_code == 0 and f"revoked {uid}" in revoked.output
    assert_error(client.get(ME, headers=auth(token)), 401)


@pytest.mark.parametrize("args,message", [
    (["enrollment-code", "nobody-is-called-this"], "No user is called 'nobody-is-called-this'"),
    (["revoke", "no-such-device"], "No device has the id no-such-device"),
])
def test_cli_errors_exit_non_zero(grid_app, args, message):
    result = grid_app.test_cli_runner().invoke(args=["devices", *args])
    assert result.exit_code == 1 and message in result.output


def test_cli_enrollment_code_only_for_grid_administrators(grid_app, people):
    result = grid_app.test_cli_runner().invoke(args=["devices", "enrollment-code", people["supervisor"]])
    assert result.exit_code == 1 and "Only grid administrators use tablets" in result.output
