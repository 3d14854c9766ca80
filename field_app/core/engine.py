"""The sync engine: push the outbox, upload photos, pull the server's changes. It knows the repository and the
transport only through their interfaces. Every answer is stored as it arrives, so after a crash at any step the
next sync simply continues: the outbox and the pull cursor are the truth."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from typing import Callable

from .. import __version__
from .errors import CoreError
from .models import RecordResult, SyncReport
from .outbox import iso
from .store import Repository
from .transport import Transport

RETRYABLE = ("network", "timeout", "server")
CHUNK = 256 * 1024
PUSH_BATCH = 200
PULL_LIMIT = 500


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Cancelled(Exception):
    pass


class SyncEngine:
    def __init__(self, repo: Repository, transport: Transport, clock: Callable[[], datetime] = utcnow, *,
                 sleep: Callable[[float], None] = time.sleep, attempts: int = 3, backoff_s: float = 0.5,
                 batch_size: int = PUSH_BATCH, pull_limit: int = PULL_LIMIT, chunk_size: int = CHUNK,
                 app_version: str = __version__, on_categories: Callable[[dict], None] | None = None,
                 on_grids_changed: Callable[[], None] | None = None):
        self.repo, self.transport, self.clock, self.sleep = repo, transport, clock, sleep
        self.attempts, self.backoff_s = attempts, backoff_s
        self.batch_size, self.pull_limit, self.chunk_size = batch_size, pull_limit, chunk_size
        self.app_version = app_version
        self.on_categories = on_categories
        self.on_grids_changed = on_grids_changed

    # --- the whole sync ----------------------------------------------------------------------------------------
    def run(self, progress=None, cancelled=None) -> SyncReport:
        progress = progress or (lambda done, total, phase: None)
        cancelled = cancelled or (lambda: False)
        report = SyncReport(ok=True)
        try:
            self.push(report, progress, cancelled)
            self.upload_photos(report, progress, cancelled)
            self.pull(report, progress, cancelled)
        except Cancelled:
            report.ok, report.error_kind = False, "cancelled"
            report.error = CoreError("cancelled").message
        except CoreError as error:
            report.ok, report.error_kind, report.error = False, error.kind, error.message
        finally:
            self._remember_clock()
        now = self.clock()
        if report.ok:
            self.repo.put_many({"last_success_at": iso(now), "last_error": None, "last_error_kind": None})
        elif report.error_kind not in ("cancelled", "busy"):
            self.repo.put_many({"last_error": report.error, "last_error_kind": report.error_kind,
                                "last_error_at": iso(now)})
        self.repo.put("last_sync_at", iso(now))
        return report

    # --- push --------------------------------------------------------------------------------------------------
    def push(self, report: SyncReport, progress, cancelled) -> None:
        total = self.repo.outbox_stats(self.clock())[0]
        done, after_seq = 0, -1
        progress(0, total, "push")
        while True:
            if cancelled():
                raise Cancelled()
            batch = self.repo.outbox(after_seq=after_seq, limit=self.batch_size)
            if not batch:
                break
            after_seq = batch[-1].seq
            ids = [item.mutation_id for item in batch]
            body = self._envelope(batch)
            self.repo.mark_sending(ids)
            try:
                answer = self._call(lambda: self.transport.push(body), cancelled)
            except CoreError as error:
                self.repo.note_push_error(ids, error.message)
                raise
            results = answer["results"]
            by_id = {r.get("mutation_id"): r for r in results}
            if len(results) != len(batch) or any(i not in by_id for i in ids):
                self.repo.note_push_error(ids, "incomplete answer")
                raise CoreError("bad_response", details={"why": "push answer does not match the batch"})
            outcomes, purge = self.repo.apply_push_results(batch, results, self.clock(), self._confidential())
            self._delete_files(purge)
            report.results.extend(outcomes)
            report.pushed += sum(1 for o in outcomes if o.outcome in ("applied", "duplicate", "conflict"))
            done += len(batch)
            progress(min(done, total) if total else done, max(total, done), "push")

    def _envelope(self, batch) -> bytes:
        """The mutations go out as their stored JSON, byte for byte, inside a fresh envelope."""
        now = self.clock()
        depth, oldest = self.repo.outbox_stats(now)
        health = {"outbox_depth": depth, "oldest_unsent_age_s": oldest,
                  "failed_attachments": self.repo.failed_attachments(), "app_version": self.app_version[:32]}
        head = json.dumps({"device_time": iso(now), "health": health}, ensure_ascii=False, separators=(",", ":"))
        return (head[:-1] + ',"mutations":[' + ",".join(item.body for item in batch) + "]}").encode("utf-8")

    # --- photos ------------------------------------------------------------------------------------------------
    def upload_photos(self, report: SyncReport, progress, cancelled) -> None:
        pending = self.repo.pending_attachments()
        progress(0, len(pending), "photos")
        for index, attachment in enumerate(pending, start=1):
            if cancelled():
                raise Cancelled()
            try:
                self._upload(attachment, cancelled)
            except CoreError as error:
                if error.kind == "auth":
                    raise
                self.repo.update_attachment(attachment.sha, attempt=True, last_error=error.message)
                report.results.append(RecordResult(attachment.sha, "photo_failed", error.message))
                if error.kind in RETRYABLE:
                    break   # the network is gone for now: the pull would fail too; photos resume next time
            progress(index, len(pending), "photos")

    def _upload(self, attachment, cancelled) -> None:
        sha, path = attachment.sha, attachment.path
        if not os.path.exists(path):
            self.repo.update_attachment(sha, state="failed", last_error="file missing on the tablet")
            raise CoreError("client", "照片文件在平板上找不到了。")
        total = os.path.getsize(path)
        offset, complete = self._call(lambda: self.transport.attachment_offset(sha), cancelled)
        hash_failures = 0
        while not complete:
            if cancelled():
                raise Cancelled()
            with open(path, "rb") as file:
                file.seek(offset)
                data = file.read(self.chunk_size)
            try:
                answer = self._call(lambda: self.transport.put_chunk(sha, offset, data, total,
                                                                     attachment.content_type), cancelled)
            except CoreError as error:
                if error.kind == "conflict":
                    if error.details.get("code") == "upload_in_progress":
                        self.sleep(float(error.details.get("retry_after") or 5))
                    offset, complete = self._call(lambda: self.transport.attachment_offset(sha), cancelled)
                    continue
                if error.kind == "too_large":
                    self.repo.update_attachment(sha, state="failed", last_error=error.message)
                    raise
                if error.kind == "hash_mismatch":
                    hash_failures += 1
                    if hash_failures >= 2:
                        self.repo.update_attachment(sha, state="failed", last_error=error.message)
                        raise
                    offset = 0
                    continue
                raise
            offset, complete = answer["received_bytes"], answer["complete"]
            self.repo.update_attachment(sha, uploaded_bytes=offset)
        self.repo.update_attachment(sha, state="complete", uploaded_bytes=total, last_error=None)
        if attachment.purge:
            self._delete_files([path])

    # --- pull --------------------------------------------------------------------------------------------------
    def pull(self, report: SyncReport, progress, cancelled) -> None:
        cursor = self.repo.get("cursor")
        done = 0
        progress(0, 0, "pull")
        while True:
            if cancelled():
                raise Cancelled()
            page = self._call(lambda: self.transport.pull(cursor, self.pull_limit), cancelled)
            self._check_versions(page, cancelled)
            snapshots = [change["record"] for change in page["changes"]]
            purge = self.repo.apply_pull_page(snapshots, page["cursor"], self.clock(), self._confidential())
            self._delete_files(purge)
            cursor = page["cursor"]
            done += len(snapshots)
            report.pulled += len(snapshots)
            progress(done, done + (1 if page["has_more"] else 0), "pull")
            if not page["has_more"]:
                break

    def _check_versions(self, page: dict, cancelled) -> None:
        version = page.get("categories_version")
        if version and version != self.repo.get("categories_version"):
            document = self._call(self.transport.categories, cancelled)
            self.repo.put_many({"categories": document, "categories_version": document.get("version")})
            if self.on_categories:
                self.on_categories(document)
        revision = page.get("grids_revision")
        stored = self.repo.get("grids_revision")
        if revision and revision != stored:
            if self.on_grids_changed and (stored is not None or not self.repo.get("grids")):
                self.on_grids_changed()
            self.repo.put("grids_revision", revision)

    # --- helpers -----------------------------------------------------------------------------------------------
    def _call(self, fn, cancelled):
        """One call with retries and exponential back-off on network, timeout and server errors."""
        for attempt in range(self.attempts):
            try:
                return fn()
            except CoreError as error:
                if error.kind not in RETRYABLE or attempt == self.attempts - 1:
                    raise
                self.sleep(self.backoff_s * 2 ** attempt)
                if cancelled():
                    raise Cancelled() from error
        raise AssertionError("unreachable")

    def _confidential(self) -> set[str]:
        document = self.repo.get("categories") or {}
        keys = {c["key"] for c in document.get("categories", []) if c.get("confidential")}
        return keys or {"integrity"}   # before any download, the most restricted reading of the known one

    def _remember_clock(self) -> None:
        offset = getattr(self.transport, "clock_offset_s", None)
        if offset is not None:
            self.repo.put("clock_offset_s", offset)

    @staticmethod
    def _delete_files(paths) -> None:
        for path in paths:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
