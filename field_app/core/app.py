"""FieldCore: everything the tablet's UI needs, without Kivy. One object per app; the UI calls it from its worker
threads for sync and from the main thread for the rest (the store serialises access with its own lock)."""
from __future__ import annotations

import hashlib
import mimetypes
import os
import shutil
import tempfile
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from .. import __version__
from . import geometry
from .engine import SyncEngine
from .errors import CoreError, ValidationFailed
from .forms import CategoryForm, forms_from_served
from .location import LocationProvider, default_provider
from .models import DRAFT, REJECTED, Enrollment, LocalRecord, RecordResult, SyncHealth, SyncReport
from .outbox import parse_time
from .store import Repository, SQLiteRepository
from .transport import RequestsTransport, Transport

SETTING_DEFAULTS = {"language": "zh", "font_path": None, "server_url": None, "auto_sync": True}
SKEW_WARNING_S = 300
STALE_AFTER = timedelta(hours=24)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class FieldCore:
    def __init__(self, data_dir, *, transport_factory: Callable[[str, str | None], Transport] | None = None,
                 location: LocationProvider | None = None, clock: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], None] | None = None, repository: Repository | None = None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.photo_dir = self.data_dir / "photos"
        self.photo_dir.mkdir(exist_ok=True)
        self.clock = clock or utcnow
        self.sleep = sleep
        self.repo: Repository = repository or SQLiteRepository(self.data_dir / "store.sqlite")
        self.transport_factory = transport_factory or (
            lambda url, token: RequestsTransport(url, token, clock=self.clock))
        self.location = location or default_provider()
        self._sync_lock = threading.Lock()
        self._forms: tuple[str | None, dict[str, CategoryForm]] = (None, {})

    # --- enrollment --------------------------------------------------------------------------------------------
    def is_enrolled(self) -> bool:
        return self.enrollment() is not None

    def enrollment(self) -> Enrollment | None:
        data = self.repo.get("enrollment")
        return Enrollment(**data) if data else None

    @staticmethod
    def parse_qr(text: str) -> tuple[str, str]:
        """"wangge://enroll?server=URL&code=CODE" -> (URL, CODE); ValueError for anything else."""
        parts = urlsplit((text or "").strip())
        if parts.scheme != "wangge" or (parts.netloc or parts.path.strip("/")) != "enroll":
            raise ValueError("这不是网格通的登记二维码。")
        query = parse_qs(parts.query)
        server, code = (query.get("server") or [""])[0].strip(), (query.get("code") or [""])[0].strip()
        if not code or urlsplit(server).scheme not in ("http", "https") or not urlsplit(server).netloc:
            raise ValueError("登记二维码内容不完整。")
        return server.rstrip("/"), code

    def enroll(self, server_url: str, code: str, label: str | None = None, progress=None) -> Enrollment:
        """Trade the one-time code for a device token, then download forms, grids and open cases. The enrollment
        is stored as soon as the server answers (the code is spent then), even if the first download fails."""
        progress = progress or (lambda done, total, phase: None)
        server_url = server_url.strip().rstrip("/")
        progress(0, 4, "enroll")
        answer = self.transport_factory(server_url, None).enroll(code, label, __version__)
        user = answer["user"]
        enrollment = Enrollment(server_url=server_url, device_uid=answer["device"]["uid"], token=answer["token"],
                                username=user["username"], display_name=user.get("display_name") or user["username"],
                                grids=list(user.get("grids") or []))
        self.repo.put_many({"enrollment": enrollment.__dict__, "setting:server_url": server_url,
                            "cursor": None, "grids_revision": None})
        transport = self._transport()
        progress(1, 4, "categories")
        self._download_categories(transport)
        progress(2, 4, "grids")
        self._download_grids(transport)
        progress(3, 4, "pull")
        report = self._engine(transport).run(progress=None)
        if not report.ok:
            raise CoreError(report.error_kind or "network", report.error)
        progress(4, 4, "done")
        return enrollment

    def server_url(self) -> str | None:
        """The server this tablet talks to: the address in settings (so a moved server can be set without
        enrolling again), else the one it enrolled with."""
        enrollment = self.enrollment()
        return self.setting("server_url") or (enrollment.server_url if enrollment else None)

    def _transport(self) -> Transport:
        enrollment = self.enrollment()
        if enrollment is None:
            raise CoreError("not_enrolled")
        return self.transport_factory(self.server_url(), enrollment.token)

    def _download_categories(self, transport: Transport) -> None:
        document = transport.categories()
        self.repo.put_many({"categories": document, "categories_version": document.get("version")})

    def _download_grids(self, transport: Transport) -> None:
        features = {code: transport.grid(code) for code in self.my_grids()}
        self.repo.put("grids", features)

    def _engine(self, transport: Transport) -> SyncEngine:
        kwargs = {"sleep": self.sleep} if self.sleep else {}
        return SyncEngine(self.repo, transport, self.clock, app_version=__version__,
                          on_grids_changed=lambda: self._download_grids(transport), **kwargs)

    # --- forms -------------------------------------------------------------------------------------------------
    def _form_map(self) -> dict[str, CategoryForm]:
        version = self.repo.get("categories_version")
        if self._forms[0] != version or not self._forms[1]:
            document = self.repo.get("categories") or {}
            self._forms = (version, {form.key: form for form in forms_from_served(document)})
        return self._forms[1]

    def categories(self) -> list[CategoryForm]:
        return list(self._form_map().values())

    def form(self, category: str) -> CategoryForm:
        try:
            return self._form_map()[category]
        except KeyError:
            raise KeyError(f"unknown category {category!r} (forms not downloaded yet?)") from None

    # --- records -----------------------------------------------------------------------------------------------
    def new_record(self, category: str, grid_code: str | None = None) -> LocalRecord:
        self.form(category)
        grids = self.my_grids()
        now = self.clock()
        return LocalRecord(id=str(uuid.uuid4()), category=category, grid_code=grid_code or (grids[0] if grids else ""),
                           fields={}, state=DRAFT, created_at=now, updated_at=now)

    def validate(self, record: LocalRecord) -> dict[str, str]:
        try:
            form = self.form(record.category)
        except KeyError:
            return {"_": "没有这一类表单，请同步后再试。"}
        errors = form.validate(record.fields)
        grids = self.my_grids()
        if not record.grid_code:
            errors["grid_code"] = "请选择网格。"
        elif grids and record.grid_code not in grids:
            errors["grid_code"] = "只能在本人负责的网格内登记。"
        return errors

    def save_draft(self, record: LocalRecord) -> LocalRecord:
        return self.repo.save_draft(record, self.clock())

    def submit(self, record: LocalRecord) -> LocalRecord:
        form = self.form(record.category)
        if form.confidential and (record.server_version is not None or record.state not in (DRAFT, REJECTED)):
            # The server keeps integrity concerns write-once: an edit after sending could only be refused.
            raise ValidationFailed({"_": "廉情信息提交后不能修改；如有补充，请新建一条。"})
        errors = self.validate(record)
        if errors:
            raise ValidationFailed(errors)
        return self.repo.submit(record, self.clock(), offset_s=self.repo.get("clock_offset_s"),
                                photo_shas=form.photo_shas(record.fields))

    def records(self, states=None) -> list[LocalRecord]:
        return self.repo.list_records(states)

    def record(self, record_id: str) -> LocalRecord:
        record = self.repo.get_record(record_id)
        if record is None:
            raise KeyError(record_id)
        return record

    def receipts(self) -> list[dict]:
        return self.repo.receipts()

    def attach_photo(self, record: LocalRecord, path, field: str = "photos") -> str:
        """Copy the photo into the app's folder under its SHA-256, add it to `field` and save the draft."""
        source = Path(path)
        digest = hashlib.sha256()
        with open(source, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        sha = digest.hexdigest()
        target = self.photo_dir / sha
        if not target.exists():
            fd, temporary = tempfile.mkstemp(dir=self.photo_dir, prefix=".incoming-")
            with os.fdopen(fd, "wb") as out, open(source, "rb") as file:
                shutil.copyfileobj(file, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        content_type = mimetypes.guess_type(source.name)[0] or "image/jpeg"
        self.repo.add_attachment(sha, str(target), target.stat().st_size, content_type)
        shas = list(record.fields.get(field) or [])
        if sha not in shas:
            shas.append(sha)
        record.fields[field] = shas
        saved = self.save_draft(record)
        record.state, record.updated_at = saved.state, saved.updated_at
        return sha

    # --- location ----------------------------------------------------------------------------------------------
    def current_location(self) -> dict | None:
        try:
            return self.location.current()
        except Exception:   # noqa: BLE001  (a broken GPS never takes a form down)
            return None

    def in_my_grid(self, grid_code: str, lon: float, lat: float) -> bool:
        feature = (self.repo.get("grids") or {}).get(grid_code)
        return feature is not None and geometry.contains(feature, lon, lat)

    def my_grids(self) -> list[str]:
        enrollment = self.enrollment()
        return list(enrollment.grids) if enrollment else []

    def grid_features(self) -> dict:
        grids = self.repo.get("grids") or {}
        return {"type": "FeatureCollection", "features": [grids[code] for code in self.my_grids() if code in grids]}

    # --- sync --------------------------------------------------------------------------------------------------
    def sync(self, progress=None, cancelled=None) -> SyncReport:
        if not self._sync_lock.acquire(blocking=False):
            return SyncReport(ok=False, error="正在同步，请稍候。", error_kind="busy")
        try:
            try:
                transport = self._transport()
            except CoreError as error:
                return SyncReport(ok=False, error=error.message, error_kind="auth")
            try:
                if not self.repo.get("categories"):
                    self._download_categories(transport)
            except CoreError as error:
                return SyncReport(ok=False, error=error.message, error_kind=error.kind)
            return self._engine(transport).run(progress=progress, cancelled=cancelled)
        finally:
            self._sync_lock.release()

    def health(self) -> SyncHealth:
        depth, oldest = self.repo.outbox_stats(self.clock())
        return SyncHealth(outbox_depth=depth, oldest_unsent_age_s=oldest,
                          failed_attachments=self.repo.failed_attachments(),
                          last_success_at=parse_time(self.repo.get("last_success_at")),
                          last_error=self.repo.get("last_error"), clock_offset_s=self.repo.get("clock_offset_s"))

    def warnings(self) -> list[str]:
        health, now, found = self.health(), self.clock(), []
        if health.clock_offset_s is not None and abs(health.clock_offset_s) > SKEW_WARNING_S:
            minutes = round(abs(health.clock_offset_s) / 60)
            way = "快" if health.clock_offset_s < 0 else "慢"
            found.append(f"平板时间比服务器{way}约 {minutes} 分钟，请在系统设置中校准时间。")
        waiting = health.outbox_depth > 0 or bool(self.repo.pending_attachments())
        last = health.last_success_at
        never_but_old = last is None and (health.oldest_unsent_age_s or 0) > STALE_AFTER.total_seconds()
        if waiting and (never_but_old or (last is not None and now - last > STALE_AFTER)):
            found.append("已超过 24 小时没有成功同步，仍有记录等待上传，请尽快连接网络同步。")
        if health.failed_attachments:
            found.append(f"有 {health.failed_attachments} 张照片无法上传，请查看记录中的照片。")
        rejected = len(self.repo.list_records(["rejected"]))
        if rejected:
            found.append(f"服务器退回了 {rejected} 条记录（内容不符合要求），请修改后重新提交。")
        return found

    def server_reachable(self, timeout: float = 3) -> bool:
        url = self.server_url()
        if not url:
            return False
        try:
            self.transport_factory(url, None).health(timeout=timeout)
            return True
        except CoreError:
            return False

    # --- settings ----------------------------------------------------------------------------------------------
    def setting(self, key: str, default=None):
        value = self.repo.get(f"setting:{key}")
        if value is not None:
            return value
        return default if default is not None else SETTING_DEFAULTS.get(key)

    def set_setting(self, key: str, value) -> None:
        self.repo.put(f"setting:{key}", value)

    def close(self) -> None:
        try:
            self.location.stop()
        finally:
            self.repo.close()


__all__ = ["FieldCore", "CoreError", "ValidationFailed", "SyncReport", "SyncHealth", "RecordResult"]
