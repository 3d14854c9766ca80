"""Typed service errors and the one JSON error shape every failure is turned into.

Shape: {"code": "not_found", "status": 404, "message": "...", "errors": {field: [messages]}}.
Registered once for the whole app, so no view formats its own errors.
"""
from __future__ import annotations

import logging

from flask import jsonify, make_response, render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of the errors services raise; each subclass maps to one HTTP status."""

    status = 400
    code = "bad_request"
    headers: dict[str, str] = {}

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class BadRequest(ServiceError):
    status, code = 400, "bad_request"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="wangge"'}


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class Unprocessable(ServiceError):
    status, code = 422, "validation_error"


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


def wants_page() -> bool:
    """Web pages get an HTML error page; the API (and anything asking for JSON) gets the JSON shape."""
    if request.path.startswith("/api/") or request.is_json:
        return False
    return request.accept_mimetypes.best != "application/json"


def error_body(status: int, code: str, message: str, errors: dict | None = None):
    if wants_page():
        from .web.i18n import translate  # the web layer builds on errors, not the other way round

        key = "error.csrf" if code == "csrf_failed" else f"error.{status}"
        text = translate(key)
        page = render_template("web/error.html", status=status, message=text if text != key else message)
        return make_response(page, status)
    response = jsonify({"code": code, "status": status, "message": message, "errors": errors or {}})
    response.status_code = status
    return response



def _service_error(error: ServiceError):
    response = error_body(error.status, error.code, error.message, error.errors)
    response.headers.update(error.headers)
    return response


def _validation_error(error: ValidationError):
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return error_body(422, "validation_error", "The request has invalid fields.", messages)


def _http_error(error: HTTPException):
    code = (error.name or "error").lower().replace(" ", "_").replace("'", "")
    if code == "bad_request" and "CSRF" in (error.description or ""):
        code = "csrf_failed"
    response = error_body(error.code or 500, code, error.description or error.name)
    # Keep headers werkzeug attached (e.g. Allow on 405, WWW-Authenticate on 401).
    for key, value in error.get_headers():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def _unexpected_error(error: Exception):
    log.exception("unhandled error", exc_info=error)
    return error_body(500, "internal_error", "Something went wrong on the server; it has been logged.")


def init_app(app):
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
