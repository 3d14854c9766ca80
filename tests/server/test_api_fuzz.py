"""Every described endpoint, fed odd arguments and bodies by hypothesis, answers 2xx-4xx and never 500.

The operations come from the OpenAPI document the server serves, so a new endpoint is fuzzed as soon as it is
described (tests/server/test_openapi.py makes sure it is). Values lean on what broke before: numbers beyond 32 and
64 bits, times at the ends of the calendar, Unicode digits, very long and empty strings, nulls, wrong types.
Each call is made with a tablet's token and with an administrator's, so both paths past authentication run.
"""
from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import FIRST_GRID, auth, make_device, make_user, user_token

# Calls that end the session they are made with would starve the rest of the run; they have their own tests.
SKIPPED = {("delete", "/auth/token")}
TRICKY_TEXT = ["", " ", "0", "-1", "1e309", "NaN", "٣٤٥", "2**63", str(2**31), str(2**63), str(2**70), "null",
               "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01", "9999-12-31",
               "2026-02-30", "420502001001001", "42050200100100１", "a" * 5000, "\x00", "%00", "../../etc/passwd",
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "YzE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5"]
SCALARS = (st.sampled_from(TRICKY_TEXT) | st.text(max_size=30) | st.none() | st.booleans()
           | st.integers(-2**70, 2**70) | st.sampled_from([2**31, 2**63, -2**63 - 1, 10**30])
           | st.floats(allow_nan=False, allow_infinity=False))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


@pytest.fixture(scope="module")
def fuzz(grid_app):
    admin = make_user(grid_app, role="admin", scopes=("420500",))
    tablet_owner = make_user(grid_app, scopes=(FIRST_GRID,))
    tokens = [user_token(grid_app, admin), make_device(grid_app, tablet_owner)[1]]
    document = grid_app.test_client().get("/api/v1/openapi.json").get_json()
    return grid_app.test_client(), tokens, document


def _operations():
    from server.openapi import OPERATIONS

    return sorted({(op.method, op.path) for op in OPERATIONS} - SKIPPED)


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@st.composite
def _call(draw, document: dict, method: str, path: str):
    operation = document["paths"][path][method]
    parameters = operation.get("parameters", [])
    url = path
    for parameter in [p for p in parameters if p["in"] == "path"]:
        url = url.replace("{%s}" % parameter["name"], quote(str(draw(SCALARS)), safe="") or "x")
    query = {p["name"]: str(draw(SCALARS)) for p in parameters if p["in"] == "query" and draw(st.booleans())}
    body = None
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        properties = _resolve(document, content["application/json"]["schema"]).get("properties", {})
        names = list(properties) + ["unexpected"]
        body = draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=len(names)) | VALUES)
    elif content:
        body = draw(st.binary(max_size=64))
    return re.sub(r"/+", "/", url), query, body


@pytest.mark.parametrize("method,path", _operations())
def test_no_argument_makes_an_endpoint_fail_with_a_500(fuzz, method, path):
    client, tokens, document = fuzz
    # Every query argument with every tricky text, one at a time; then hypothesis mixes arguments and bodies.
    parameters = document["paths"][path][method].get("parameters", [])
    url = "/api/v1" + re.sub(r"\{[^}]+\}", "x", path)
    for n, (name, value) in enumerate((p["name"], value) for p in parameters if p["in"] == "query"
                                      for value in TRICKY_TEXT):
        response = client.open(url, method=method.upper(), query_string={name: value}, headers=auth(tokens[n % 2]))
        response.get_data()
        assert response.status_code < 500, (method, url, name, value)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(call=_call(document, method, path), which=st.sampled_from([0, 1]))
    def check(call, which):
        url, query, body = call
        kwargs = {"query_string": query, "headers": auth(tokens[which])}
        if isinstance(body, bytes):
            kwargs.update(data=body, content_type="application/octet-stream")
        elif body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        response = client.open("/api/v1" + url, method=method.upper(), **kwargs)
        assert response.status_code < 500, (method, url, query, body, response.get_data(as_text=True)[:300])

    check()


@st.composite
def _spoiled_mutation(draw):
    from sync_support import create, update

    mutation = draw(st.sampled_from(["create", "update"]))
    made = create() if mutation == "create" else update(str(draw(st.uuids())), 1, {"summary": "x"})
    for _ in range(draw(st.integers(1, 3))):
        fields_ = made.get("fields")
        target = fields_ if isinstance(fields_, dict) and draw(st.booleans()) else made
        key = draw(st.sampled_from(sorted(target) + ["location", "follow_up_on", "photos", "parties", "extra"]))
        target[key] = draw(VALUES)
    return made


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(_spoiled_mutation(), min_size=1, max_size=4))
def test_pushes_of_spoiled_mutations_are_answered_item_by_item(fuzz, batch):
    client, tokens, _ = fuzz
    response = client.post("/api/v1/sync/push", data=json.dumps({"mutations": batch}),
                           content_type="application/json", headers=auth(tokens[1]))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    results = response.get_json()["results"]
    assert len(results) == len(batch)
    assert {r["status"] for r in results} <= {"applied", "duplicate", "conflict", "rejected"}
