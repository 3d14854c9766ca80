"""The core's error vocabulary: typed, with a plain message the UI can show as it is (Chinese)."""
from __future__ import annotations

KINDS = ("network", "timeout", "auth", "server", "bad_response", "conflict", "too_large", "hash_mismatch",
         "not_found", "client", "busy", "cancelled", "not_enrolled")

MESSAGES = {
    "network": "无法连接服务器，请检查网络后再同步。记录已保存在平板上，不会丢失。",
    "timeout": "服务器长时间没有响应，请稍后再同步。记录已保存在平板上，不会丢失。",
    "auth": "本平板的授权已失效，请联系主管重新登记本平板。记录已保存在平板上。",
    "server": "服务器暂时出错，请稍后再同步。记录已保存在平板上，不会丢失。",
    "bad_response": "服务器返回了无法识别的内容（可能是网络页面拦截），请稍后再同步。记录已保存在平板上。",
    "busy": "正在同步，请稍候。",
    "cancelled": "同步已取消。未上传的记录仍保存在平板上。",
    "not_enrolled": "本平板尚未登记，请先扫描主管提供的登记码。",
}


class CoreError(Exception):
    """A failure the UI shows in plain words. `kind` is one of KINDS; `status` is the HTTP status when there was one;
    `details` holds what the server said (its `errors`, or protocol headers such as the upload offset)."""

    def __init__(self, kind: str, message: str | None = None, *, status: int | None = None,
                 details: dict | None = None):
        self.kind = kind
        self.message = message or MESSAGES.get(kind, "出现错误，请稍后再试。")
        self.status = status
        self.details = details or {}
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"CoreError({self.kind!r}, {self.message!r}, status={self.status!r})"


class ValidationFailed(Exception):
    """A record that does not pass the form's rules; `errors` maps field name -> plain message (zh)."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
