"""A fake transport for engine tests: a tiny in-memory server that keeps the protocol's promises (idempotent
mutation ids compared by body, versions, a change log with cursors, receipts for confidential categories, resumable
attachments), records every call, and fails on cue."""
from __future__ import annotations

import hashlib
import json

from field_app.core.errors import CoreError


def body_hash(mutation: dict) -> str:
    return hashlib.sha256(json.dumps(mutation, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class FakeTransport:
    def __init__(self, categories: dict | None = None, confidential=("integrity",), grids=None):
        self.calls: list[str] = []
        self.pushed_bodies: list[bytes] = []
        self.records: dict[str, dict] = {}
        self.applied: dict[str, tuple[str, dict]] = {}      # mutation_id -> (hash, result)
        self.log: list[str] = []                             # change log: record ids in commit order
        self.attachments: dict[str, bytearray] = {}
        self.totals: dict[str, int] = {}
        self.failures: list[tuple[str, object]] = []         # (call name, CoreError | "after_commit" | callable)
        self.confidential = set(confidential)
        self.categories_doc = categories or {"version": "1-test", "categories": []}
        self.grids = grids or {}
        self.clock_offset_s = 0.0
        self.reject: dict[str, dict] = {}                    # record_id -> rejected result template
        self.categories_version = self.categories_doc["version"]
        self.grids_revision = "1-grids"

    # scripting
    def fail(self, call: str, error, times: int = 1) -> None:
        self.failures += [(call, error)] * times

    def _maybe_fail(self, call: str, phase: str = "before"):
        for index, (name, error) in enumerate(self.failures):
            if name == call:
                if error == "after_commit":
                    if phase == "after":
                        del self.failures[index]
                        raise CoreError("timeout")
                    return
                if phase == "before":
                    del self.failures[index]
                    raise error
                return

    # server-side actions tests use
    def server_edit(self, record_id: str, *, fields=None, status=None, comment=None, conflicts=None) -> None:
        rec = self.records[record_id]
        rec["version"] += 1
        rec["fields"].update(fields or {})
        if status is not None:
            rec["status"], rec["status_comment"] = status, comment
        if conflicts is not None:
            rec["conflicts"] = conflicts
        self.log.append(record_id)

    # the Transport interface
    def enroll(self, code, label, app_version):
        self.calls.append("enroll")
        return {"device": {"uid": "dev-1"}, "token": "tok", "user": {"username": "wang", "display_name": "王",
                                                                     "grids": list(self.grids)}}

    def push(self, body: bytes) -> dict:
        self.calls.append("push")
        self._maybe_fail("push")
        self.pushed_bodies.append(body)
        envelope = json.loads(body)
        results = [self._apply(m) for m in envelope["mutations"]]
        self._maybe_fail("push", "after")
        return {"server_time": "2026-11-27T06:00:00.000Z", "results": results}

    def _apply(self, m: dict) -> dict:
        digest = body_hash(m)
        if m["mutation_id"] in self.applied:
            prior_hash, prior = self.applied[m["mutation_id"]]
            if prior_hash != digest:
                return {"mutation_id": m["mutation_id"], "record_id": m["record_id"], "status": "rejected",
                        "message": "reused", "errors": {"mutation_id": ["x"]}, "retry": False}
            return {**prior, "status": "duplicate", "original_status": prior["status"]}
        if m["record_id"] in self.reject and m["op"] == "create":
            return {"mutation_id": m["mutation_id"], "record_id": m["record_id"], **self.reject[m["record_id"]]}
        if m["op"] == "create":
            if m["record_id"] in self.records:
                return {"mutation_id": m["mutation_id"], "record_id": m["record_id"], "status": "rejected",
                        "message": "exists", "errors": {"record_id": ["already exists"]}, "retry": False}
            self.records[m["record_id"]] = {"id": m["record_id"], "category": m["category"],
                                            "grid_code": m["grid_code"], "version": 1, "status": "reported",
                                            "status_comment": None, "fields": dict(m["fields"]), "conflicts": []}
            result = {"mutation_id": m["mutation_id"], "record_id": m["record_id"], "status": "applied", "version": 1}
        else:
            rec = self.records.get(m["record_id"])
            if rec is None:
                return {"mutation_id": m["mutation_id"], "record_id": m["record_id"], "status": "rejected",
                        "message": "not yet", "errors": {"record_id": ["unknown record"]}, "retry": True}
            rec["version"] += 1
            rec["fields"].update(m["fields"])
            if rec["status"] == "returned":
                rec["status"], rec["status_comment"] = "reported", None
            result = {"mutation_id": m["mutation_id"], "record_id": m["record_id"], "status": "applied",
                      "version": rec["version"]}
        self.applied[m["mutation_id"]] = (digest, result)
        self.log.append(m["record_id"])
        return result

    def pull(self, cursor, limit):
        self.calls.append("pull")
        self._maybe_fail("pull")
        start = int(cursor or 0)
        entries = self.log[start:start + limit]
        end = start + len(entries)
        last = {}
        for offset, record_id in enumerate(entries):
            last[record_id] = start + offset + 1
        changes = []
        for record_id, position in sorted(last.items(), key=lambda item: item[1]):
            rec = self.records[record_id]
            snap = {k: rec[k] for k in ("id", "category", "grid_code", "version", "status", "status_comment")}
            snap["updated_at"] = "2026-11-27T06:00:00.000Z"
            if rec["category"] in self.confidential:
                snap["receipt"] = True
            else:
                snap["fields"] = json.loads(json.dumps(rec["fields"]))
                snap["conflicts"] = list(rec["conflicts"])
            changes.append({"cursor": str(position), "record": snap})
        return {"server_time": "2026-11-27T06:00:00.000Z", "changes": changes, "cursor": str(end),
                "has_more": end < len(self.log), "categories_version": self.categories_version,
                "grids_revision": self.grids_revision}

    def categories(self):
        self.calls.append("categories")
        self._maybe_fail("categories")
        return self.categories_doc

    def grid(self, code):
        self.calls.append(f"grid {code}")
        self._maybe_fail("grid")
        return self.grids[code]

    def attachment_offset(self, sha):
        self.calls.append("head")
        self._maybe_fail("head")
        held = self.attachments.get(sha, bytearray())
        return len(held), self._complete(sha)

    def _complete(self, sha):
        held = self.attachments.get(sha)
        return held is not None and len(held) == self.totals.get(sha) and hashlib.sha256(held).hexdigest() == sha

    def put_chunk(self, sha, start, data, total, content_type):
        self.calls.append(f"put {start}")
        self._maybe_fail("put")
        held = self.attachments.setdefault(sha, bytearray())
        self.totals[sha] = total
        if start != len(held):
            raise CoreError("conflict", status=409, details={"offset": len(held), "code": "offset_mismatch"})
        held += data
        return {"received_bytes": len(held), "complete": self._complete(sha)}

    def health(self, timeout=None):
        self.calls.append("health")
        self._maybe_fail("health")
        return {"status": "ok"}
