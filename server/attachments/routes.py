"""Attachment API routes: resumable upload (HEAD + PUT with Content-Range) and download (GET).

HEAD and GET share one URL but not one meaning: HEAD reports the upload state to any authenticated caller
(the tablet asks it before resuming), GET streams the file to whoever may see a record referring to it.
Werkzeug would answer HEAD with the GET view, so one view dispatches on the method explicitly.
"""
from flask import Blueprint, make_response, request, send_file
from werkzeug.local import LocalProxy

from ..accounts.auth import current_principal, require
from ..errors import BadRequest, PayloadTooLarge
from ..extensions import db
from . import services
from .schemas import AttachmentStateSchema, parse_content_range, parse_sha256

bp = Blueprint("attachments", __name__)
CACHE_FOREVER_PRIVATELY = "private, max-age=31536000, immutable"  # content-addressed: the bytes never change


def _body():
    """The request body, opened only when the service first reads it, so that the checks on the headers
    (and the attachment size limit) come first. A body over MAX_CONTENT_LENGTH gets a 413 saying what to do.
    """
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"The request body is {request.content_length} bytes; the server accepts at "
                              f"most {limit} bytes per request. Send the attachment in smaller chunks.",
                              {"body": [f"must be at most {limit} bytes"], "max_body_bytes": [limit]})
    return request.stream


_request_body = LocalProxy(_body)


def _upload_headers(state: dict) -> dict:
    headers = {"Upload-Offset": str(state["received_bytes"]),
               "Attachment-Complete": "1" if state["complete"] else "0",
               "Cache-Control": "no-store"}
    if state["total_bytes"] is not None:
        headers["Upload-Length"] = str(state["total_bytes"])
    return headers


@bp.route("/attachments/<sha256>", methods=["GET", "HEAD"])
@require()
def attachment(sha256: str):
    if request.method == "HEAD":
        return make_response("", 200, _upload_headers(services.status(sha256)))
    file, content_type, size = services.download(sha256, current_principal())
    db.session.commit()  # the audit of a confidential read, if any
    response = send_file(file, mimetype=content_type, etag=sha256, conditional=False, max_age=None)
    response.content_length = size
    # Conditional (If-None-Match: 304) and range (206) requests, now that the length is known.
    response = response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
    response.headers["Cache-Control"] = CACHE_FOREVER_PRIVATELY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.put("/attachments/<sha256>")
@require()
def put_attachment(sha256: str):
    parse_sha256(sha256)
    start, end, total = parse_content_range(request.headers.get("Content-Range"), request.content_length)
    length = end - start + 1
    if request.content_length is not None and request.content_length != length:
        raise BadRequest(f"Content-Range announces {length} bytes, Content-Length {request.content_length}.",
                         {"Content-Range": [f"bytes {start}-{end} is {length} bytes, the body is not"]})
    state = services.put_chunk(sha256, start, end, total, _request_body, request.mimetype,
                               current_principal())
    body = AttachmentStateSchema().dump(state)
    return make_response(body, 201 if state["completed_now"] else 200, _upload_headers(state))
