"""Conditional, pre-compressed responses for large, rarely changing bodies (the grid GeoJSON)."""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from typing import Callable

from flask import Response, request


@dataclass(frozen=True)
class Rendered:
    raw: bytes
    gzipped: bytes


def render(body: bytes) -> Rendered:
    # Compressed once per dataset revision and query, not per request: gzip of ~1 MB costs tens of ms.
    return Rendered(body, gzip.compress(body, compresslevel=6, mtime=0))


def etag_for(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:32]


def conditional(etag: str, produce: Callable[[], Rendered], mimetype: str) -> Response:
    """Answer 304 before producing anything when the client already has this version."""
    wants_gzip = "gzip" in request.accept_encodings
    # Each encoding is its own representation, so it gets its own entity tag.
    tag = etag + ("-gz" if wants_gzip else "")
    if request.if_none_match.contains(tag):
        response = Response(status=304)
    else:
        rendered = produce()
        response = Response(rendered.gzipped if wants_gzip else rendered.raw, mimetype=mimetype)
        if wants_gzip:
            response.headers["Content-Encoding"] = "gzip"
    response.set_etag(tag)
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = "no-cache"
    return response
