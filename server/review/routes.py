"""Pages: the review queue and record page (/review), the inspectors' queue (/inspect), tablet sync health
(/devices), time limits (/deadlines) and exports (/review/export.csv|geojson). Thin: parse, call a service, render.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

from flask import (Blueprint, Response, abort, flash, redirect, render_template, request, send_file,
                   stream_with_context, url_for)
from sqlalchemy import func, select

from ..attachments.models import RecordAttachment
from ..attachments.services import download
from ..devices import services as device_services
from ..devices.schemas import qr_text
from ..errors import NotFound, ServiceError, Unprocessable
from ..extensions import db
from ..geo.services import grid_feature
from ..records import queries
from ..records.categories import catalogue
from ..records.models import STATUSES, Record, RecordConflict
from ..web.auth import current_user, current_web_principal, login_required
from ..web.i18n import translate
from . import deadlines, exports, present, queue, workflow

bp = Blueprint("review", __name__)

REVIEWERS = ("supervisor", "admin")
INSPECTORS = ("inspector",)
GRID_CODE = re.compile(r"^\d{15}$")
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
SHA = re.compile(r"^[0-9a-f]{64}$")


@bp.context_processor
def _helpers():
    return {"present": present, "STATUSES": STATUSES, "workflow": workflow, "deadlines": deadlines}


# --- queue ----------------------------------------------------------------------------------------------------------

def _filters(args) -> dict:
    """The queue's filters from the query string; anything unknown is ignored rather than refused."""
    filters = {}
    if GRID_CODE.match(args.get("grid", "")):
        filters["grid"] = args["grid"]
    if args.get("category") in catalogue().categories:
        filters["category"] = args["category"]
    if args.get("status") in (*STATUSES, "open"):
        filters["status"] = args["status"]
    if args.get("admin") and len(args["admin"]) <= 64:
        filters["admin"] = args["admin"]
    if args.get("due") in queue.DUE_FILTERS:
        filters["due"] = args["due"]
    if args.get("sort") in queue.SORTS:
        filters["sort"] = args["sort"]
    if args.get("cursor"):
        filters["cursor"] = args["cursor"]
    limit = _whole_number(args.get("limit"))
    if limit is not None and 1 <= limit <= queue.MAX_PAGE_SIZE:
        filters["limit"] = limit
    return filters


def _whole_number(text: str | None) -> int | None:
    """ASCII digits only: str.isdigit() also accepts '²', which int() then refuses."""
    return int(text) if text and WHOLE_NUMBER.fullmatch(text) else None


def _queue(confidential: bool, endpoint: str):
    principal = current_web_principal()
    filters = _filters(request.args)
    page = queue.queue_page(principal, filters, confidential=confidential)
    categories = [key for key, category in catalogue().categories.items() if category.confidential == confidential]
    kept = {key: value for key, value in filters.items() if key != "cursor"}
    older = url_for(endpoint, **kept, cursor=page.next_cursor) if page.next_cursor else None
    return render_template("review/queue.html", page=page, filters=filters, categories=categories, older=older,
                           confidential=confidential, endpoint=endpoint,
                           administrators=queue.administrators_in_scope(principal) if not confidential else [],
                           export_args=kept)


@bp.get("/review")
@login_required(*REVIEWERS)
def review_queue():
    return _queue(False, "review.review_queue")


@bp.get("/inspect")
@login_required(*INSPECTORS)
def inspect_queue():
    return _queue(True, "review.inspect_queue")


@bp.post("/review/bulk-accept")
@login_required(*REVIEWERS)
def bulk_accept():
    ids = [rid for rid in request.form.getlist("record_id") if rid][:queue.PAGE_SIZE * 2]
    if not ids:
        flash(translate("review.bulk.none"), "error")
        return redirect(url_for("review.review_queue", **_filters(request.args)), 303)
    try:
        ids = [queries.normalize_record_id(rid) for rid in ids]
        result = workflow.bulk_accept(ids, request.form.get("comment"), current_user())
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("review.review_queue", **_filters(request.args)), 303)
    db.session.commit()
    flash(translate("review.bulk.done", n=len(result.accepted)), "ok")
    if result.skipped:
        flash(translate("review.bulk.skipped", n=len(result.skipped)), "error")
    return redirect(url_for("review.review_queue", **_filters(request.args)), 303)


# --- one record -----------------------------------------------------------------------------------------------------

ERROR_KEYS = {"comment": "review.error.comment_required", "target": "review.error.target_required"}


def _error_text(error: ServiceError) -> str:
    if isinstance(error, workflow.InvalidTransition):
        return translate("review.error.invalid_transition")
    if isinstance(error, workflow.StaleRecord):
        return translate("review.error.stale")
    for field, key in ERROR_KEYS.items():
        if field in error.errors and "required" in error.errors[field]:
            return translate(key)
    return error.message


def _record_view(record_id: str, confidential: bool) -> dict:
    principal = current_web_principal()
    view = queries.get_record(principal, record_id)  # 404 unless readable; audits an inspector's read
    if catalogue().is_confidential(view["category"]) != confidential:
        raise NotFound(f"No record {record_id} in this queue.", {"record_id": ["unknown record"]})
    return view


def _render_record(record_id: str, confidential: bool, error: str | None = None, status: int = 200,
                   form: dict | None = None):
    view = _record_view(record_id, confidential)
    record = SimpleNamespace(id=view["id"], category=view["category"], status=view["status"],
                             received_at=view["received_at"], updated_at=view["updated_at"], content=view["fields"])
    clock = deadlines.clocks_for([view["id"]]).get(view["id"])
    deadline = deadlines.deadline_for(record, clock, deadlines.limits())
    values = {**view["fields"], **view.get("confidential", {})}
    location = values.get("location")
    try:
        grid = grid_feature(view["grid_code"])
    except ServiceError:
        grid = None
    actions = workflow.available_actions(record)
    user = current_user()
    allowed = workflow.CONFIDENTIAL_RECORD_ROLES if confidential else workflow.OPEN_RECORD_ROLES
    return render_template(
        "review/record.html", view=view, values=values, specs=present.field_specs(view["category"]),
        deadline=deadline, clock=clock, actions=actions if user.role in allowed else [], confidential=confidential,
        map_data={"grid": grid, "point": location}, error=error,
        form=form or {}, base="inspect" if confidential else "review"), status


def _act(record_id: str, confidential: bool):
    form = request.form
    action = form.get("action", "")
    target = None
    if action == "dispatch":
        target = workflow.UP_A_LEVEL if form.get("target_kind") == "up" else form.get("department")
    version = form.get("version", "")
    try:
        record_id = queries.normalize_record_id(record_id)
        _record_view(record_id, confidential)  # the same 404 as the page for anything not in this queue
        workflow.transition(record_id, action, form.get("comment"), current_user(), target=target,
                            expected_version=_whole_number(version))
    except ServiceError as error:
        db.session.rollback()
        if isinstance(error, NotFound):
            raise
        return _render_record(record_id, confidential, error=_error_text(error), status=error.status,
                              form=dict(form))
    db.session.commit()
    flash(translate(f"review.done.{action}"), "ok")
    return redirect(url_for(f"review.{'inspect' if confidential else 'review'}_record", record_id=record_id), 303)


def _photo(record_id: str, sha: str, confidential: bool):
    if not SHA.match(sha):
        abort(404)
    principal = current_web_principal()
    record_id = queries.normalize_record_id(record_id)
    record = db.session.execute(select(Record.id, Record.category).where(
        Record.id == record_id, queries.readable(principal))).first()
    linked = db.session.scalar(select(RecordAttachment.sha256).where(
        RecordAttachment.record_id == record_id, RecordAttachment.sha256 == sha))
    if record is None or linked is None or catalogue().is_confidential(record.category) != confidential:
        abort(404)
    file, content_type, size = download(sha, principal)
    db.session.commit()  # the audit of a confidential read, if any
    response = send_file(file, mimetype=content_type, etag=sha, max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/review/<record_id>")
@login_required(*REVIEWERS)
def review_record(record_id: str):
    return _render_record(record_id, False)


@bp.post("/review/<record_id>/action")
@login_required(*REVIEWERS)
def review_action(record_id: str):
    return _act(record_id, False)


@bp.get("/review/<record_id>/photo/<sha>")
@login_required(*REVIEWERS)
def review_photo(record_id: str, sha: str):
    return _photo(record_id, sha, False)


@bp.get("/inspect/<record_id>")
@login_required(*INSPECTORS)
def inspect_record(record_id: str):
    return _render_record(record_id, True)


@bp.post("/inspect/<record_id>/action")
@login_required(*INSPECTORS)
def inspect_action(record_id: str):
    return _act(record_id, True)


@bp.get("/inspect/<record_id>/photo/<sha>")
@login_required(*INSPECTORS)
def inspect_photo(record_id: str, sha: str):
    return _photo(record_id, sha, True)


# --- exports --------------------------------------------------------------------------------------------------------

def _export(kind: str):
    principal = current_web_principal()
    filters = _filters(request.args)
    filters.pop("due", None)
    filters.pop("cursor", None)
    if kind == "csv":
        body, mimetype = exports.csv_lines(principal, filters), "text/csv; charset=utf-8"
    else:
        body, mimetype = exports.geojson_chunks(principal, filters), "application/geo+json"
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="wangge-records.{kind}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/review/export.csv")
@login_required(*exports.EXPORT_ROLES)
def export_csv():
    return _export("csv")


@bp.get("/review/export.geojson")
@login_required(*exports.EXPORT_ROLES)
def export_geojson():
    return _export("geojson")


# --- tablets --------------------------------------------------------------------------------------------------------

def _devices_page(enrollment: dict | None = None, error: str | None = None, status: int = 200):
    principal = current_web_principal()
    devices = device_services.list_devices(principal.scope)
    ids = [device.id for device in devices]
    conflicts = dict(db.session.execute(
        select(RecordConflict.device_id, func.count()).where(RecordConflict.device_id.in_(ids),
                                                             RecordConflict.resolved_at.is_(None))
        .group_by(RecordConflict.device_id)).all()) if ids else {}
    rows = [SimpleNamespace(device=device, stale=device_services.is_stale(device),
                            skewed=device_services.clock_skew_flagged(device),
                            conflicts=conflicts.get(device.id, 0)) for device in devices]
    rows.sort(key=lambda row: (row.device.revoked_at is not None, not row.stale, row.device.user.username))
    return render_template("review/devices.html", rows=rows, enrollment=enrollment, error=error,
                           administrators=queue.administrators_in_scope(principal),
                           stale_count=sum(row.stale for row in rows)), status


@bp.get("/devices")
@login_required(*REVIEWERS)
def devices():
    return _devices_page()


@bp.post("/devices/enrollment")
@login_required(*REVIEWERS)
def create_enrollment():
    import segno

    principal = current_web_principal()
    try:
        code, row = device_services.enrollment_for(request.form.get("username", "").strip(),
                                                   scope=principal.scope, created_by=principal.user)
    except ServiceError as error:
        db.session.rollback()
        return _devices_page(error=error.message, status=error.status)
    text = qr_text(request.url_root, code)
    svg = segno.make(text, error="m").svg_inline(scale=5, dark="#1d2733")
    return _devices_page({"code": code, "qr_text": text, "qr_svg": svg, "expires_at": row.expires_at,
                          "username": row.user.username, "display_name": row.user.display_name})


@bp.post("/devices/<uid>/revoke")
@login_required(*REVIEWERS)
def revoke_device(uid: str):
    device = device_services.managed_device(uid, current_web_principal().scope)
    device_services.revoke_device(device)
    flash(translate("devices.revoked", label=device.label or device.uid[:8]), "ok")
    return redirect(url_for("review.devices"), 303)


# --- time limits ----------------------------------------------------------------------------------------------------

@bp.route("/deadlines", methods=["GET", "POST"])
@login_required("supervisor", "inspector", "admin")
def time_limits():
    user = current_user()
    error, status = None, 200
    if request.method == "POST":
        if user.role != "admin":
            abort(403)
        # A field the form did not send leaves its limit alone; a field sent empty removes it.
        rows = [{"category": category, "stage": stage,
                 "hours": request.form[f"hours-{category}-{stage}"].strip(),
                 "working_days": request.form.get(f"working-{category}-{stage}") == "1"}
                for category in catalogue().categories for stage in deadlines.STAGES
                if f"hours-{category}-{stage}" in request.form]
        try:
            deadlines.set_limits(rows, user)
        except Unprocessable as failure:
            db.session.rollback()
            error, status = translate("deadlines.invalid", which=", ".join(failure.errors)), 422
        else:
            db.session.commit()
            flash(translate("deadlines.saved"), "ok")
            return redirect(url_for("review.time_limits"), 303)
    principal = current_web_principal()
    confidential = principal.sees_confidential
    counts = {level: sorted(deadlines.overdue_counts(level, principal.scope, include_confidential=confidential)
                            .items(), key=lambda item: (-item[1]["overdue"], -item[1]["due_soon"], item[0]))[:15]
              for level in ("street", "community", "grid")}
    return render_template("review/deadlines.html", table=deadlines.limits(), stages=deadlines.STAGES,
                           categories=list(catalogue().categories), editable=user.role == "admin", error=error,
                           counts=counts), status
