"""Start the real server (gunicorn, SQLite in a temporary instance folder) for benchmarks."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))
from live_server import free_port, wait_until_healthy  # noqa: E402  (the tests' server helpers)


class LiveServer:
    def __init__(self, workers: int = 2, grids: bool = True):
        self.workers = workers
        self.grids = grids
        self.instance = Path(tempfile.mkdtemp(prefix="wangge-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "WANGGE_INSTANCE_PATH": str(self.instance), "SECRET_KEY": "bench"}
        self.env.pop("DATABASE_URL", None)
        self.process: subprocess.Popen | None = None

    def flask(self, *args: str) -> None:
        subprocess.run([str(BIN / "flask"), "--app", "server", *args], cwd=ROOT, env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> LiveServer:
        self.flask("db", "upgrade")
        if self.grids:
            self.flask("grids", "import", str(ROOT / "grids" / "yichang.geojson"))
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-w", str(self.workers),
             "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "server:create_app()"], cwd=ROOT, env=self.env)
        if wait_until_healthy(self.url):
            return self
        self.__exit__()  # never leave a gunicorn behind
        raise RuntimeError("server did not start")

    def __exit__(self, *exc) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.instance, ignore_errors=True)
