"""NUL characters, which PostgreSQL cannot store in text or JSONB, are a 4xx naming where they are, never a 500."""
import json

import pytest

from factories import auth, make_device, make_user, user_token
from sync_support import create, mediation_fields


@pytest.fixture
def tokens(grid_app):
    owner = make_user(grid_app)
    admin = make_user(grid_app, role="admin", scopes=("420500",))
    return make_device(grid_app, owner)[1], user_token(grid_app, admin)


def test_a_pushed_item_with_a_nul_is_rejected_alone_naming_the_field(grid_app, tokens):
    device_token, _ = tokens
    batch = [create(), create(fields=mediation_fields(summary="楼上\x00噪音")), create()]
    body = json.dumps({"mutations": batch, "health": {"app_version": "0.1.0"}})
    response = grid_app.test_client().post("/api/v1/sync/push", data=body, content_type="application/json",
                                           headers=auth(device_token))
    assert response.status_code == 200
    first, bad, last = response.get_json()["results"]
    assert (first["status"], last["status"]) == ("applied", "applied")
    assert bad["status"] == "rejected" and bad["errors"] == {"fields.summary": ["must not contain NUL characters"]}


def test_a_nul_outside_the_items_is_a_422_naming_it(grid_app, tokens):
    device_token, _ = tokens
    body = json.dumps({"mutations": [create()], "health": {"app_version": "0.1\x00"}})
    response = grid_app.test_client().post("/api/v1/sync/push", data=body, content_type="application/json",
                                           headers=auth(device_token))
    assert response.status_code == 422 and "health.app_version" in response.get_json()["errors"]
    response = grid_app.test_client().post("/api/v1/auth/token", json={"username": "a\x00b", "password": "x"})
    assert response.status_code == 422 and "username" in response.get_json()["errors"]


@pytest.mark.parametrize("url,where", [
    ("/api/v1/records?grid=%00", "grid"),
    ("/api/v1/devices/%00/revoke", "path"),
    ("/api/v1/records/abc%00", "path"),
])
def test_a_nul_in_the_path_or_query_is_a_400_naming_it(grid_app, tokens, url, where):
    _, admin_token = tokens
    method = "post" if url.endswith("revoke") else "get"
    response = getattr(grid_app.test_client(), method)(url, headers=auth(admin_token))
    assert response.status_code == 400 and where in response.get_json()["errors"]
