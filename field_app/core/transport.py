"""The tablet's only door to the server. `Transport` is what the engine sees; `RequestsTransport` speaks HTTP and
turns every failure into a typed CoreError with plain words (network, timeout, auth, server, bad_response, ...)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Callable, Protocol

import requests

from .errors import CoreError

API = "/api/v1"


class Transport(Protocol):
    clock_offset_s: float | None     # server clock minus device clock, from the last answer (None: no answer yet)

    def enroll(self, code: str, label: str | None, app_version: str | None) -> dict: ...
    def push(self, body: bytes) -> dict: ...
    def pull(self, cursor: str | None, limit: int) -> dict: ...
    def categories(self) -> dict: ...
    def grid(self, code: str) -> dict: ...
    def attachment_offset(self, sha: str) -> tuple[int, bool]: ...
    def put_chunk(self, sha: str, start: int, data: bytes, total: int, content_type: str) -> dict: ...
    def health(self, timeout: float | None = None) -> dict: ...


def _server_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RequestsTransport:
    def __init__(self, base_url: str, token: str | None = None, timeout=(5, 60), *,
                 clock: Callable[[], datetime] = _utcnow, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.clock = clock
        self.session = session or requests.Session()
        self.clock_offset_s: float | None = None

    # --- the calls ---------------------------------------------------------------------------------------------
    def enroll(self, code: str, label: str | None, app_version: str | None) -> dict:
        body = self._json("POST", "/devices/enroll", json={"code": code, "label": label, "app_version": app_version},
                          auth=False, expect=(201, 200))
        _require(body, {"device": dict, "token": str, "user": dict})
        _require(body["device"], {"uid": str})
        _require(body["user"], {"username": str, "grids": list})
        return body

    def push(self, body: bytes) -> dict:
        answer = self._json("POST", "/sync/push", data=body, headers={"Content-Type": "application/json"})
        _require(answer, {"results": list})
        for result in answer["results"]:
            if not isinstance(result, dict) or not isinstance(result.get("status"), str):
                raise CoreError("bad_response", details={"why": "a push result without a status"})
        return answer

    def pull(self, cursor: str | None, limit: int) -> dict:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = self._json("GET", "/sync/pull", params=params)
        _require(answer, {"changes": list, "cursor": str, "has_more": bool})
        for change in answer["changes"]:
            if not isinstance(change, dict) or not isinstance(change.get("record"), dict):
                raise CoreError("bad_response", details={"why": "a pull change without a record"})
            _require(change["record"], {"id": str, "category": str, "grid_code": str, "version": int})
        return answer

    def categories(self) -> dict:
        answer = self._json("GET", "/categories", auth=False)
        _require(answer, {"version": str, "categories": list})
        return answer

    def grid(self, code: str) -> dict:
        answer = self._json("GET", f"/grids/{code}", auth=False)
        _require(answer, {"type": str, "geometry": dict})
        return answer

    def attachment_offset(self, sha: str) -> tuple[int, bool]:
        response = self._request("HEAD", f"/attachments/{sha}")
        self._check(response, (200,))
        try:
            return int(response.headers.get("Upload-Offset", "0")), response.headers.get("Attachment-Complete") == "1"
        except ValueError:
            raise CoreError("bad_response", status=response.status_code) from None

    def put_chunk(self, sha: str, start: int, data: bytes, total: int, content_type: str) -> dict:
        """Store bytes start..start+len-1. Returns {received_bytes, complete}. Protocol answers become CoreError
        kinds: conflict (409; details['offset']), too_large (413), hash_mismatch (422)."""
        end = start + len(data) - 1
        headers = {"Content-Range": f"bytes {start}-{end}/{total}", "Content-Type": content_type}
        response = self._request("PUT", f"/attachments/{sha}", data=data, headers=headers)
        if response.status_code == 409:
            offset = response.headers.get("Upload-Offset")
            raise CoreError("conflict", "照片上传位置不一致，将从服务器记录的位置继续。", status=409,
                            details={"offset": int(offset) if offset and offset.isdigit() else None,
                                     "code": _error_code(response), "retry_after": response.headers.get("Retry-After")})
        if response.status_code == 413:
            raise CoreError("too_large", "照片文件太大，服务器不接收。", status=413)
        if response.status_code == 422:
            raise CoreError("hash_mismatch", "照片上传后校验不一致，将重新上传。", status=422)
        body = self._parse(self._check(response, (200, 201)))
        _require(body, {"received_bytes": int, "complete": bool})
        return body

    def health(self, timeout: float | None = None) -> dict:
        answer = self._json("GET", "/health", auth=False, timeout=timeout)
        _require(answer, {"status": str})
        return answer

    # --- plumbing ----------------------------------------------------------------------------------------------
    def _json(self, method: str, path: str, *, expect=(200,), **kwargs) -> dict:
        return self._parse(self._check(self._request(method, path, **kwargs), expect))

    def _request(self, method: str, path: str, *, auth: bool = True, headers: dict | None = None,
                 timeout=None, **kwargs) -> requests.Response:
        headers = dict(headers or {})
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        sent = self.clock()
        try:
            response = self.session.request(method, self.base_url + API + path, headers=headers,
                                            timeout=timeout if timeout is not None else self.timeout, **kwargs)
        except requests.Timeout as error:
            raise CoreError("timeout", details={"why": str(error)}) from error
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            raise CoreError("network", details={"why": str(error)}) from error
        except requests.RequestException as error:
            raise CoreError("network", details={"why": str(error)}) from error
        received = self.clock()
        server = _server_time(response.headers.get("X-Server-Time"))
        if server is not None:
            midpoint = sent + (received - sent) / 2
            self.clock_offset_s = (server - midpoint).total_seconds()
        return response

    @staticmethod
    def _check(response: requests.Response, expect) -> requests.Response:
        status = response.status_code
        if status in expect:
            return response
        code = _error_code(response)
        if status == 401:
            if response.request is not None and response.request.url.endswith("/devices/enroll"):
                raise CoreError("auth", "登记码无效、已使用或已过期，请向主管索取新的登记码。", status=401)
            raise CoreError("auth", status=401, details={"code": code})
        if status == 403:
            raise CoreError("auth", "本平板没有执行此操作的权限，请联系主管。", status=403, details={"code": code})
        if status >= 500:
            raise CoreError("server", status=status)
        if status == 404:
            raise CoreError("not_found", "服务器上没有找到所需的内容。", status=404, details={"code": code})
        if status == 413:
            raise CoreError("too_large", "发送的内容太大，服务器不接收。", status=413)
        if code is None:   # an error page that is not ours (a proxy, a captive portal)
            raise CoreError("bad_response", status=status)
        raise CoreError("client", f"服务器拒绝了请求（{status}）。请联系技术支持。", status=status,
                        details={"code": code})

    @staticmethod
    def _parse(response: requests.Response) -> dict:
        try:
            body = json.loads(response.content.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise CoreError("bad_response", status=response.status_code) from None
        if not isinstance(body, dict):
            raise CoreError("bad_response", status=response.status_code)
        return body


def _error_code(response: requests.Response) -> str | None:
    try:
        body = json.loads(response.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return body.get("code") if isinstance(body, dict) and isinstance(body.get("code"), str) else None


def _require(body: dict, shape: dict) -> None:
    for key, kind in shape.items():
        value = body.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise CoreError("bad_response", details={"why": f"{key!r} missing or not {kind.__name__}"})


