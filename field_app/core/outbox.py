"""Pure rules of the tablet's record life cycle, shared by every repository: what a submit queues, what a pulled
snapshot may change, and which state a record is in. No storage, no HTTP here."""
from __future__ import annotations

import json
import uuid6
from datetime import datetime, timedelta, timezone

from .models import CONFLICT, DRAFT, REJECTED, RETURNED, UPLOADED, WAITING


def iso(moment: datetime) -> str:
    """Wire format for times: UTC with milliseconds and Z (what the server also sends)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def draft_changes(fields: dict, shadow: dict | None, grid_code: str | None = None) -> set[str]:
    """Fields whose local value differs from what was last submitted or received (None/missing are the same)."""
    if shadow is None:
        return set()
    base = shadow.get("fields") or {}
    changed = {k for k in set(fields) | set(base) if fields.get(k) != base.get(k)}
    if grid_code is not None and shadow.get("grid_code") not in (None, grid_code):
        changed.add("grid_code")
    return changed


def derive_state(row: dict, *, pending: int, failed: int, photos_pending: int) -> str:
    if row.get("shadow") is None:
        return DRAFT
    if failed:
        return REJECTED
    if draft_changes(row["fields"], row["shadow"], row["grid_code"]):
        return DRAFT
    if pending:
        return WAITING
    if row.get("conflicts"):
        return CONFLICT
    if row.get("status") == "returned":
        return RETURNED
    if photos_pending:
        return WAITING
    return UPLOADED


def build_mutation(*, record_id: str, op: str, fields: dict, now: datetime, offset_s: float | None,
                   category: str | None = None, grid_code: str | None = None, base_version: int | None = None,
                   mutation_id: str | None = None) -> dict:
    """A mutation exactly as it goes on the wire (without `seq`, which the repository allocates)."""
    # Time-ordered (UUIDv7): the server keeps every mutation id in a unique index, which then grows at its end
    # instead of taking a write on a random page for each one.
    mutation = {"mutation_id": mutation_id or str(uuid6.uuid7()), "seq": None, "record_id": record_id, "op": op}
    if op == "create":
        mutation.update(category=category, grid_code=grid_code)
    else:
        mutation["base_version"] = base_version
        if grid_code is not None:
            mutation["grid_code"] = grid_code
    mutation["device_time"] = iso(now)
    if offset_s is not None:
        mutation["server_time_est"] = iso(now + timedelta(seconds=offset_s))
    mutation["fields"] = fields
    return mutation


def create_fields(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


def plan_submit(stored: dict | None, record_fields: dict, grid_code: str, outbox_rows: list[dict]) -> dict:
    """What a submit does. Returns {"op": create|update|rewrite|none, "fields", "base_version", "grid_code",
    "drop": [mutation ids to delete], "rewrite": mutation id (a never-sent create rebuilt in place)}."""
    failed = [m for m in outbox_rows if m["state"] == "failed"]
    pending = [m for m in outbox_rows if m["state"] == "pending"]
    acked = stored is not None and stored.get("server_version") is not None
    if stored is None or stored.get("shadow") is None:
        return {"op": "create", "fields": create_fields(record_fields), "drop": []}
    if not acked:
        failed_create = [m for m in failed if m["op"] == "create"]
        if failed_create:   # send the corrected record as one new create; its held updates go with the old one
            return {"op": "create", "fields": create_fields(record_fields), "drop": [m["mutation_id"] for m in outbox_rows]}
        creates = [m for m in pending if m["op"] == "create"]
        if creates and creates[0]["attempts"] == 0 and len(pending) == 1:
            # Never sent: no body of it can have reached the server, so it may be rebuilt with the new values.
            return {"op": "rewrite", "rewrite": creates[0]["mutation_id"], "fields": create_fields(record_fields),
                    "drop": []}
    changed = draft_changes(record_fields, stored["shadow"], grid_code)
    for m in failed:   # a rejected edit's fields are sent again (with the user's fix) in the new mutation
        changed |= set(json.loads(m["body"])["fields"])
    moved = "grid_code" in changed
    changed.discard("grid_code")
    if not changed and not moved:
        return {"op": "none", "drop": [m["mutation_id"] for m in failed]}
    return {"op": "update", "fields": {k: record_fields.get(k) for k in sorted(changed)},
            "base_version": stored.get("server_version") or 1, "grid_code": grid_code if moved else None,
            "drop": [m["mutation_id"] for m in failed]}


def pending_fields(outbox_rows: list[dict]) -> set[str]:
    names: set[str] = set()
    for m in outbox_rows:
        body = json.loads(m["body"])
        names |= set(body.get("fields") or {})
        if m["op"] == "update" and "grid_code" in body:
            names.add("grid_code")
    return names


def merge_snapshot(row: dict, snapshot: dict, unpushed: set[str]) -> dict:
    """A local record row updated by a pulled snapshot: every field except the unpushed ones takes the server's
    value; server-owned fields (version, status, comment, conflicts) always do."""
    row = dict(row)  # shallow is enough: only top-level keys are replaced below, nothing nested is changed in place
    server_fields = snapshot.get("fields") or {}
    shadow = row.get("shadow") or {"fields": {}, "grid_code": snapshot["grid_code"]}
    fields = {k: v for k, v in server_fields.items() if k not in unpushed}
    for k in unpushed:
        if k in row["fields"]:
            fields[k] = row["fields"][k]
    shadow_fields = {k: v for k, v in server_fields.items()}
    for k in unpushed & set(shadow.get("fields") or {}):
        shadow_fields[k] = shadow["fields"][k]
    row["fields"] = fields
    if "grid_code" not in unpushed:
        row["grid_code"] = snapshot["grid_code"]
        shadow_grid = snapshot["grid_code"]
    else:
        shadow_grid = shadow.get("grid_code")
    row["shadow"] = {"fields": shadow_fields, "grid_code": shadow_grid}
    row["server_version"] = snapshot["version"]
    row["status"] = snapshot.get("status")
    row["status_comment"] = snapshot.get("status_comment")
    row["conflicts"] = list(snapshot.get("conflicts") or [])
    return row
