"""The OpenAPI document: every /api/v1 route is described, and the description is structurally sound.

openapi-spec-validator is not available, so the structural checks are written out here: every $ref resolves, every
operation has a summary, a unique operationId, responses with descriptions, its path parameters declared, and a
security requirement that agrees with the view's `require(...)`. No database is needed.
"""
from __future__ import annotations

import re

import pytest

from server import create_app
from server.openapi import OPERATIONS, PREFIX, flask_path

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("openapi")
    return create_app({"TESTING": True, "INSTANCE_PATH": str(path),
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}/x.db"})


@pytest.fixture(scope="module")
def spec(app):
    response = app.test_client().get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "X-Server-Time" in response.headers
    return response.get_json()


def _api_routes(app):
    """(OpenAPI path, method) of every /api/v1 route, without the HEAD and OPTIONS Flask adds by itself."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        methods = set(rule.methods) - {"OPTIONS"}
        if "GET" in methods:
            methods.discard("HEAD")  # automatic, unless the view was registered for HEAD on its own rule
        for method in sorted(methods):
            yield flask_path(rule.rule), method.lower(), rule


def _resolve(spec, ref: str):
    assert ref.startswith("#/"), ref
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def _walk(node, path=()):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _deref(spec, node):
    return _resolve(spec, node["$ref"]) if "$ref" in node else node


def test_document_header(spec):
    assert spec["openapi"] == "3.0.3"
    assert spec["info"]["title"] == "Wangge API" and spec["info"]["version"]
    assert spec["servers"] == [{"url": PREFIX}]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["bearerAuth"][
            "description"]}
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "status", "message", "errors"} == set(error["properties"])


def test_every_api_route_is_described(app, spec):
    missing = [(path, method) for path, method, _ in _api_routes(app)
               if method not in spec["paths"].get(path, {})]
    assert missing == [], f"routes without an OPERATIONS row in server/openapi.py: {missing}"
    assert ("/records", "get") in {(p, m) for p, m, _ in _api_routes(app)}


def test_every_described_operation_exists_once(app):
    routes = {(path, method) for path, method, _ in _api_routes(app)}
    heads = {(flask_path(rule.rule), "head") for rule in app.url_map.iter_rules() if "HEAD" in rule.methods}
    rows = [(op.path, op.method) for op in OPERATIONS]
    assert len(rows) == len(set(rows)), "an operation is described twice"
    assert [row for row in rows if row not in routes | heads] == [], "OPERATIONS rows for routes the app lacks"


def test_every_ref_resolves(spec):
    refs = [node["$ref"] for _, node in _walk(spec) if isinstance(node.get("$ref"), str)]
    assert len(refs) > 50
    for ref in refs:
        _resolve(spec, ref)


def test_every_operation_is_complete(spec):
    operation_ids = []
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        assert path.startswith("/") and not path.startswith(PREFIX), where
        assert operation.get("summary"), where
        operation_ids.append(operation["operationId"])
        assert operation.get("responses"), where
        successes = [status for status in operation["responses"] if status.startswith("2")]
        assert successes, f"{where}: no success response"
        for status, response in operation["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", status), (where, status)
            response = _deref(spec, response)
            assert response.get("description"), (where, status)
            assert "X-Server-Time" in response.get("headers", {}), (where, status)
            for media in response.get("content", {}).values():
                assert "schema" in media, (where, status)
        parameters = [_deref(spec, p) for p in operation.get("parameters", [])]
        for parameter in parameters:
            assert parameter["in"] in ("path", "query", "header", "cookie") and parameter["name"], where
            assert "schema" in parameter, where
        declared = {p["name"] for p in parameters if p["in"] == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", path)), where
        assert all(p["required"] for p in parameters if p["in"] == "path"), where
        names = [(p["in"], p["name"]) for p in parameters]
        assert len(names) == len(set(names)), where
        if "requestBody" in operation:
            assert operation["requestBody"]["content"], where
        for requirement in operation["security"]:
            assert set(requirement) <= set(spec["components"]["securitySchemes"]), where
    assert len(operation_ids) == len(set(operation_ids))


def test_component_schemas_are_json_schema(spec):
    for name, schema in spec["components"]["schemas"].items():
        assert schema.get("type") == "object" and isinstance(schema.get("properties"), dict), name
        for key in schema.get("required", []):
            assert key in schema["properties"], (name, key)


def test_security_agrees_with_the_views(app, spec):
    for path, method, rule in _api_routes(app):
        operation = spec["paths"][path][method]
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "required_roles", None)
        statuses = set(operation["responses"])
        where = f"{method.upper()} {path}"
        if roles is None:
            assert operation["security"] == [], f"{where} is public but described as needing a token"
            continue
        assert operation["security"] == [{"bearerAuth": []}], f"{where} needs a token"
        assert "401" in statuses, where
        if roles:
            assert set(operation["x-roles"]) == set(roles), where
            assert "403" in statuses, where
        else:
            assert "x-roles" not in operation, where


def test_argument_and_body_errors_are_described(spec):
    for path, method, operation in _operations(spec):
        statuses = set(operation["responses"])
        parameters = operation.get("parameters", [])
        if any(p["in"] == "query" or (p["in"] == "path" and "pattern" in p["schema"]) for p in parameters):
            assert "400" in statuses, f"{method.upper()} {path}"
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            assert {"400", "422"} <= statuses, f"{method.upper()} {path}"


def test_feature_schemas_are_referenced(spec):
    paths, schemas = spec["paths"], spec["components"]["schemas"]

    def body_schema(path, method, status="200"):
        return paths[path][method]["responses"][status]["content"]["application/json"]["schema"]

    assert body_schema("/records", "get") == {"$ref": "#/components/schemas/RecordPage"}
    assert body_schema("/records/{record_id}", "get") == {"$ref": "#/components/schemas/Record"}
    record = schemas["Record"]["properties"]
    assert {"fields", "confidential", "history", "conflicts", "attachments", "received_at"} <= set(record)
    assert record["history"]["items"] == {"$ref": "#/components/schemas/RecordChange"}
    assert record["received_at"]["format"] == "date-time" and record["received_at"]["readOnly"] is True
    names = [p["name"] for p in paths["/records"]["get"]["parameters"]]
    assert names == ["category", "grid", "community", "status", "from", "to", "limit", "cursor"]

    push = paths["/sync/push"]["post"]
    assert push["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PushRequest"}
    assert schemas["PushRequest"]["properties"]["mutations"]["items"] == {"$ref": "#/components/schemas/Mutation"}
    assert schemas["PushRequest"]["properties"]["health"] == {"$ref": "#/components/schemas/PushHealth"}
    assert set(schemas["MutationResult"]["properties"]["status"]["enum"]) == {
        "applied", "duplicate", "conflict", "rejected"}
    assert body_schema("/sync/push", "post") == {"$ref": "#/components/schemas/PushResult"}
    assert body_schema("/sync/pull", "get") == {"$ref": "#/components/schemas/PullResult"}
    pull_names = {p["name"] for p in paths["/sync/pull"]["get"]["parameters"]}
    assert pull_names == {"cursor", "limit"}
    assert paths["/grids/{code}"]["get"]["responses"]["404"] == {"$ref": "#/components/responses/NotFound"}


def test_the_document_is_the_same_for_every_app(spec, tmp_path):
    again = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path),
                        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/y.db"})
    assert again.test_client().get(f"{PREFIX}/openapi.json").get_json() == spec

