"""Real HTTP servers for tests: a threaded werkzeug server in-process, or a separate process that can be killed."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent


class ThreadedServer:
    """The test app behind a real socket, many requests at once (one thread each)."""

    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, timeout: float = 30.0) -> bool:
    """Poll GET /api/v1/health until it answers 200; False when it never does within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/api/v1/health", timeout=1).ok:
                return True
        except requests.RequestException:
            time.sleep(0.05)
    return False


class ServerProcess:
    """`flask run` in its own process on a given database, so a test can kill -9 it mid-request."""

    def __init__(self, database_url: str, instance_path: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": database_url, "WANGGE_INSTANCE_PATH": instance_path,
                    "SECRET_KEY": "test-secret", "PYTHONPATH": str(ROOT)}
        self.process: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "server", "run", "--port", str(self.port), "--with-threads"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if wait_until_healthy(self.url):
            return self
        self.kill()
        raise RuntimeError("server process did not start")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no chance to finish the request or roll back politely."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
