"""The OpenAPI 3.0.3 description of /api/v1, served at GET /api/v1/openapi.json.

Every operation is one row of OPERATIONS below: path, method, summary, tags, who may call it, its query, path and
body arguments, its answer and its error statuses. Bodies reference the feature packages' marshmallow schemas; the
few answers that no feature describes with a schema yet are described here (the sync answers, the error shape) or
as inline JSON Schema (GeoJSON, health, categories). The spec is built once per app, from the rows whose route the
app really has, so it never describes an endpoint that does not exist; tests/server/test_openapi.py checks the
opposite direction (every route is described) and that the description is sound.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_instance
from flask import Blueprint, current_app, jsonify
from marshmallow import fields

from .accounts.schemas import PrincipalSchema, TokenSchema
from .attachments.schemas import SHA256_ERROR, AttachmentStateSchema
from .devices.schemas import DeviceSchema, EnrollmentSchema, EnrollSchema
from .fields import AwareTime, IsoDate, UUIDString
from .geo.schemas import GridFilterSchema, LocateQuerySchema
from .maps.schemas import LEVEL_PARAM, STATS_RESPONSE, StatsQuerySchema
from .maps.services import STATS_ROLES
from .records.models import STATUSES
from .records.schemas import RecordPageSchema, RecordQuerySchema, RecordSchema, UUID_PATTERN
from .schemas import BaseSchema
from .sync.schemas import HealthSchema, MutationSchema, PullQuerySchema, PushSchema

bp = Blueprint("openapi", __name__)

PREFIX = "/api/v1"
PUBLIC = "public"  # no token
ANY_ROLE = "any"  # any valid token


# --- shapes no feature package describes with a schema (yet) ------------------------------------------------------

class ErrorSchema(BaseSchema):
    """The one error shape of every failure (server/errors.py)."""

    code = fields.String(required=True, metadata={"example": "not_found"})
    status = fields.Integer(required=True, metadata={"example": 404})
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), required=True, metadata={
        "description": "argument or field name -> list of messages (nested objects for record fields)",
        "example": {"limit": ["Must be greater than or equal to 1 and less than or equal to 500."]}})


class PushRequestSchema(PushSchema):
    """A push envelope. Each mutation is checked on its own, so a malformed one is answered `rejected` in the results
    instead of failing the request."""

    mutations = fields.List(fields.Nested(MutationSchema), required=True)


class FieldConflictSchema(BaseSchema):
    field = fields.String()
    server_value = fields.Raw(allow_none=True, metadata={"description": "what the record held before this edit"})
    device_value = fields.Raw(allow_none=True, metadata={"description": "what this edit wrote (the record holds it)"})


class MutationResultSchema(BaseSchema):
    """Per-mutation answer. applied: `version`; duplicate: the original answer again plus `original_status`;
    conflict: `version`, `conflicts`; rejected: `message`, `errors`, `retry` (true: keep it and send again later)."""

    mutation_id = fields.String(allow_none=True)
    record_id = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": ["applied", "duplicate", "conflict", "rejected"]})
    version = fields.Integer(metadata={"description": "the record's server version after this mutation"})
    merged = fields.Boolean(metadata={"description": "true when a stale edit was merged with newer changes"})
    conflicts = fields.List(fields.Nested(FieldConflictSchema))
    original_status = fields.String(metadata={"enum": ["applied", "conflict"]})
    message = fields.String()
    errors = fields.Dict(keys=fields.String())
    retry = fields.Boolean()


class PushResultSchema(BaseSchema):
    server_time = fields.String(metadata={"format": "date-time"})
    results = fields.List(fields.Nested(MutationResultSchema), metadata={"description": "in the order sent"})


class SnapshotConflictSchema(FieldConflictSchema):
    version = fields.Integer()


class RecordSnapshotSchema(BaseSchema):
    """A record as the tablet sees it; a confidential record is only a receipt (no fields)."""

    id = fields.String()
    category = fields.String()
    grid_code = fields.String()
    version = fields.Integer()
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_comment = fields.String(allow_none=True)
    updated_at = fields.String(metadata={"format": "date-time"})
    fields_ = fields.Dict(keys=fields.String(), data_key="fields")
    conflicts = fields.List(fields.Nested(SnapshotConflictSchema), metadata={"description": "open conflicts"})
    receipt = fields.Boolean(metadata={"description": "true for a confidential record: no fields come back"})


class PullChangeSchema(BaseSchema):
    cursor = fields.String()
    record = fields.Nested(RecordSnapshotSchema)


class PullResultSchema(BaseSchema):
    server_time = fields.String(metadata={"format": "date-time"})
    changes = fields.List(fields.Nested(PullChangeSchema))
    cursor = fields.String(metadata={"description": "send it back as `cursor` on the next pull"})
    has_more = fields.Boolean()
    categories_version = fields.String()
    grids_revision = fields.String(allow_none=True)


GRID_PROPERTIES = {"type": "object", "properties": {key: {"type": "string"} for key in (
    "code", "name", "community_code", "community_name", "street_code", "street_name", "district_code",
    "district_name")} | {"households": {"type": "integer", "nullable": True}}}
FEATURE = {"type": "object", "description": "RFC 7946 Feature", "required": ["type", "id", "geometry", "properties"],
           "properties": {"type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "string"},
                          "geometry": {"type": "object", "description": "Polygon or MultiPolygon"},
                          "properties": GRID_PROPERTIES}}
FEATURE_COLLECTION = {"type": "object", "description": "RFC 7946 FeatureCollection",
                      "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                                     "features": {"type": "array", "items": FEATURE}}}
HEALTH = {"type": "object", "properties": {
    "status": {"type": "string", "enum": ["ok", "degraded"]},
    "database": {"type": "string", "enum": ["ok", "unavailable"]},
    "server_time": {"type": "string", "format": "date-time"}, "version": {"type": "string"}}}
_COUNTS = {"code": {"type": "string"}, "name": {"type": "string"}, "grid_count": {"type": "integer"}}
_COMMUNITY = {"type": "object", "properties": {**_COUNTS, "households": {"type": "integer"}}}
_STREET = {"type": "object", "properties": {**_COUNTS, "community_count": {"type": "integer"},
                                            "communities": {"type": "array", "items": _COMMUNITY}}}
_DISTRICT = {"type": "object", "properties": {**_COUNTS, "community_count": {"type": "integer"},
                                              "streets": {"type": "array", "items": _STREET}}}
COMMUNITY_TREE = {"type": "object", "description": "districts > streets > communities, with grid counts and households",
                  "properties": {"grid_count": {"type": "integer"}, "community_count": {"type": "integer"},
                                 "districts": {"type": "array", "items": _DISTRICT}}}
CATEGORIES = {"type": "object", "description": "the served category definitions; tablets build their forms from them",
              "properties": {"version": {"type": "string"}, "field_types": {"type": "array", "items": {}},
                             "categories": {"type": "array", "items": {"type": "object"}}}}
DEVICE_LIST = {"type": "object", "properties": {"devices": {"type": "array", "items": DeviceSchema}}}
OPENAPI_DOCUMENT = {"type": "object", "description": "this document"}
BINARY = {"type": "string", "format": "binary"}


# --- the table -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    path: str  # OpenAPI template under /api/v1, e.g. "/records/{record_id}"
    method: str
    summary: str
    tags: tuple[str, ...]
    auth: str | tuple[str, ...]  # PUBLIC, ANY_ROLE, or the roles allowed
    response: object  # marshmallow schema (class) or JSON Schema dict; None: no body
    status: int = 200
    errors: tuple[int, ...] = ()
    query: type | None = None  # query-argument schema
    path_params: dict = field(default_factory=dict)  # name -> JSON Schema
    request: object = None  # JSON body schema
    description: str = ""
    device: bool = False  # needs a tablet's device token
    content_type: str = "application/json"
    request_content_type: str = "application/json"
    request_headers: dict = field(default_factory=dict)  # header name -> (JSON Schema, description, required)
    response_headers: tuple[str, ...] = ()  # names in HEADERS
    extra_responses: dict = field(default_factory=dict)  # status -> response object


GRID_CODE_PARAM = {"type": "string", "pattern": r"^\d{15}$"}
UPLOAD_HEADERS = ("Upload-Offset", "Upload-Length", "Attachment-Complete")
RECORD_READERS = ("grid_admin", "supervisor", "inspector", "admin")

OPERATIONS: tuple[Op, ...] = (
    Op("/health", "get", "Liveness and database reachability", ("meta",), PUBLIC, HEALTH,
       extra_responses={503: {"description": "the database is unreachable", "content": {
           "application/json": {"schema": HEALTH}}}}),
    Op("/openapi.json", "get", "This OpenAPI document", ("meta",), PUBLIC, OPENAPI_DOCUMENT),

    Op("/auth/token", "post", "Sign in: username and password for a bearer token", ("accounts",), PUBLIC,
       TokenSchema, request=TokenSchema, errors=(400, 401, 422, 429),
       description="Failed attempts are limited per username and address (429 with Retry-After)."),
    Op("/auth/token", "delete", "Sign out: revoke the token this request presents", ("accounts",), ANY_ROLE, None,
       status=204, errors=(401,)),
    Op("/auth/me", "get", "Who is calling (user and, for a tablet, its device)", ("accounts",), ANY_ROLE,
       PrincipalSchema, errors=(401,)),

    Op("/devices/enrollments", "post", "A one-time enrollment code (text and QR) for a grid administrator",
       ("devices",), ("supervisor", "admin"), EnrollmentSchema, status=201, request=EnrollmentSchema,
       errors=(400, 401, 403, 422)),
    Op("/devices/enroll", "post", "Enroll a tablet: trade the one-time code for a device token", ("devices", "sync"),
       PUBLIC, EnrollSchema, status=201, request=EnrollSchema, errors=(400, 401, 422),
       description="No bearer token: the code is the credential; it is spent even if the answer is lost."),
    Op("/devices", "get", "Tablets in the caller's scope with the health their last push reported", ("devices",),
       ("supervisor", "admin"), DEVICE_LIST, errors=(401, 403)),
    Op("/devices/{uid}/revoke", "post", "Revoke a tablet (its token stops working at once)", ("devices",),
       ("supervisor", "admin"), DeviceSchema, path_params={"uid": {"type": "string", "format": "uuid"}},
       errors=(401, 403, 404)),

    Op("/grids", "get", "All active grids as GeoJSON (gzip, ETag, 304)", ("grids",), PUBLIC, FEATURE_COLLECTION,
       query=GridFilterSchema, errors=(400,), content_type="application/geo+json"),
    Op("/grids/locate", "get", "The grid containing a point", ("grids",), PUBLIC, FEATURE, query=LocateQuerySchema,
       errors=(400, 404), content_type="application/geo+json"),
    Op("/grids/{code}", "get", "One grid as a GeoJSON Feature", ("grids",), PUBLIC, FEATURE,
       path_params={"code": GRID_CODE_PARAM}, errors=(400, 404), content_type="application/geo+json"),
    Op("/communities", "get", "District > street > community tree", ("grids",), PUBLIC, COMMUNITY_TREE),
    Op("/categories", "get", "Record categories and their fields (ETag, 304)", ("records", "sync"), PUBLIC,
       CATEGORIES),

    Op("/records", "get", "Records in the caller's scope, newest received first", ("records",), RECORD_READERS,
       RecordPageSchema, query=RecordQuerySchema, errors=(400, 401, 403),
       description="Keyset paging: pass next_cursor back as cursor. Items leave out history, conflicts, attachments "
                   "and the confidential payload. Integrity concerns are listed to inspectors only, and each one "
                   "listed is audited. City viewers get 403 (aggregates only)."),
    Op("/records/{record_id}", "get", "One record with its history, conflicts and expected attachments",
       ("records",), RECORD_READERS, RecordSchema,
       path_params={"record_id": {"type": "string", "pattern": UUID_PATTERN}}, errors=(400, 401, 403, 404),
       description="404 for an unknown record, one outside the caller's scope, and an integrity concern for anyone "
                   "but an inspector. Inspectors also get `confidential` and `history[].confidential_changes`; "
                   "each such read is audited."),

    Op("/sync/push", "post", "Push a batch of mutations; one answer per mutation", ("sync",), ("grid_admin",),
       PushResultSchema, request=PushRequestSchema, device=True, errors=(400, 401, 403, 413, 422),
       description="Each mutation is applied at most once (by mutation_id) in its own savepoint. See "
                   "docs/sync-protocol.md."),
    Op("/sync/pull", "get", "Server-side changes in the tablet's grids after a cursor", ("sync",), ("grid_admin",),
       PullResultSchema, query=PullQuerySchema, device=True, errors=(400, 401, 403)),

    Op("/attachments/{sha256}", "head", "Upload state of an attachment (how many bytes the server holds)",
       ("attachments", "sync"), ANY_ROLE, None, path_params={"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                                                                         "description": SHA256_ERROR}},
       errors=(400, 401), response_headers=UPLOAD_HEADERS,
       description="Ask before resuming an upload: send the next chunk from Upload-Offset."),
    Op("/attachments/{sha256}", "get", "Download an attachment of a record the caller may read",
       ("attachments",), ANY_ROLE, BINARY, content_type="application/octet-stream",
       path_params={"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}, errors=(400, 401, 404),
       extra_responses={206: {"description": "the requested Range", "content": {
                                  "application/octet-stream": {"schema": BINARY}}},
                        304: {"description": "Not Modified (If-None-Match matched the sha256)"}},
       description="Content-addressed (ETag = sha256, cacheable forever; If-None-Match gives 304, Range gives 206). "
                   "404 unless a record the caller may read refers to it. Confidential evidence reads are audited."),
    Op("/attachments/{sha256}", "put", "Upload an attachment, whole or as a chunk with Content-Range",
       ("attachments", "sync"), ANY_ROLE, AttachmentStateSchema,
       path_params={"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
       request=BINARY, request_content_type="application/octet-stream",
       request_headers={"Content-Range": ({"type": "string", "example": "bytes 0-65535/1048576"},
                                          "bytes START-END/TOTAL (END inclusive); omit to send the whole file", False)},
       response_headers=UPLOAD_HEADERS, errors=(400, 401, 409, 413, 422),
       extra_responses={201: {"description": "this chunk completed the file and its SHA-256 matched",
                              "content": {"application/json": {"schema": AttachmentStateSchema}}}},
       description="200 with the state after a chunk; 201 when the file is complete. 409 offset_mismatch: resume "
                   "from Upload-Offset; 409 length_mismatch; 409 upload_in_progress (Retry-After); 413 over the size "
                   "limit; 422 hash_mismatch (the bytes were discarded: start again from 0)."),
    Op("/stats/{level}", "get", "Figures per grid, community, street or district for one metric and time window",
       ("stats",), STATS_ROLES, STATS_RESPONSE, query=StatsQuerySchema, path_params={"level": LEVEL_PARAM},
       errors=(400, 401, 403, 404),
       description="Aggregates only: codes and numbers, never a record or a name. Integrity concerns: inspectors at "
                   "every level, city viewers per street or higher (403 below), never supervisors or administrators."),
)


# --- building the document -----------------------------------------------------------------------------------------

ERRORS = {400: ("BadRequest", "malformed arguments or body; `errors` names each"),
          401: ("Unauthorized", "no valid bearer token (WWW-Authenticate: Bearer)"),
          403: ("Forbidden", "the caller's role (or token kind) may not do this"),
          404: ("NotFound", "unknown, or not visible to the caller"),
          409: ("Conflict", "the request conflicts with the server's state"),
          413: ("PayloadTooLarge", "the body or declared file is over the limit"),
          422: ("Unprocessable", "the body is well-formed but has invalid fields"),
          429: ("TooManyRequests", "too many attempts (Retry-After)")}
HEADERS = {
    "X-Server-Time": {"description": "the server clock (ISO 8601 UTC); on every /api/v1 answer",
                      "schema": {"type": "string", "format": "date-time"}},
    "Upload-Offset": {"description": "bytes of the attachment the server holds", "schema": {"type": "integer"}},
    "Upload-Length": {"description": "declared total size, once known", "schema": {"type": "integer"}},
    "Attachment-Complete": {"description": "1 when complete and verified, else 0",
                            "schema": {"type": "string", "enum": ["0", "1"]}},
}
FLASK_PARAM = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def flask_path(rule: str) -> str:
    """`/api/v1/records/<record_id>` -> `/records/{record_id}`."""
    return FLASK_PARAM.sub(r"{\1}", rule).removeprefix(PREFIX)


def _schema_name(schema) -> str | None:
    """Component name of a schema; views of a schema (only=/exclude=) are inlined rather than named."""
    instance = resolve_schema_instance(schema)
    if instance.only or instance.exclude:
        return None
    if type(instance) is HealthSchema:
        return "PushHealth"  # not the /health answer
    return type(instance).__name__.removesuffix("Schema") or None


def _header_ref(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}


def _operation(op: Op) -> dict:
    operation = {"summary": op.summary, "tags": list(op.tags),
                 "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"
                 .replace(".", "_").replace("-", "_")}
    description = [op.description] if op.description else []
    if op.auth == PUBLIC:
        operation["security"] = []
    else:
        operation["security"] = [{"bearerAuth": []}]
        if op.auth != ANY_ROLE:
            operation["x-roles"] = list(op.auth)
            description.append(f"Roles: {', '.join(op.auth)}" + (" (device token)" if op.device else "") + ".")
    if description:
        operation["description"] = " ".join(description)

    parameters = [{"in": "path", "name": name, "required": True, "schema": schema}
                  for name, schema in op.path_params.items()]
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    for name, (schema, text, required) in op.request_headers.items():
        parameters.append({"in": "header", "name": name, "required": required, "schema": schema,
                           "description": text})
    if parameters:
        operation["parameters"] = parameters
    if op.request is not None:
        operation["requestBody"] = {"required": True, "content": {op.request_content_type: {"schema": op.request}}}

    headers = {name: _header_ref(name) for name in ("X-Server-Time", *op.response_headers)}
    answer = {"description": {201: "Created", 204: "No Content"}.get(op.status, "OK"), "headers": headers}
    if op.response is not None and op.method != "head":
        answer["content"] = {op.content_type: {"schema": op.response}}
    responses = {str(op.status): answer}
    for status, response in op.extra_responses.items():
        responses[str(status)] = {"headers": headers, **response}
    for status in op.errors:
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{ERRORS[status][0]}"})
    operation["responses"] = responses
    return operation


def build_spec(app) -> dict:
    """The document for `app`: the rows of OPERATIONS whose route `app` has (see the module docstring)."""
    marshmallow_plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(title="Wangge API", version=app.config.get("VERSION", "0.1.0"), openapi_version="3.0.3",
                   plugins=[marshmallow_plugin],
                   info={"description": "Community grid management for central Yichang: grids, records, tablet sync. "
                                        "Every error has the shape of the Error schema. The sync protocol is "
                                        "described in docs/sync-protocol.md."},
                   servers=[{"url": PREFIX}])
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer",
                                                   "description": "a user token (POST /auth/token) or a device "
                                                                  "token (POST /devices/enroll)"})
    # The project's lean fields (server/fields.py) are typed like the marshmallow fields they stand in for.
    marshmallow_plugin.map_to_openapi_type(UUIDString, "string", "uuid")
    marshmallow_plugin.map_to_openapi_type(AwareTime, "string", "date-time")
    marshmallow_plugin.map_to_openapi_type(IsoDate, "string", "date")
    spec.components.schema("Error", schema=ErrorSchema)
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for name, text in ERRORS.values():
        spec.components.response(name, {"description": text, "headers": {"X-Server-Time": _header_ref(
            "X-Server-Time")}, "content": error_content})

    present = {(flask_path(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
               if rule.rule.startswith(PREFIX + "/") for method in rule.methods}
    by_path: dict[str, dict] = {}
    for op in OPERATIONS:
        if (op.path, op.method) in present:
            # apispec rewrites schema dicts in place; the table's constants must stay as written for the next app.
            by_path.setdefault(op.path, {})[op.method] = copy.deepcopy(_operation(op))
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI description of this server's /api/v1, built once per app."""
    document = current_app.extensions.get("wangge.openapi")
    if document is None:
        document = current_app.extensions["wangge.openapi"] = build_spec(current_app)
    return jsonify(document)
