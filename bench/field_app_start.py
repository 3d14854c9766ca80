"""Field app start-up: process start to the first frame of the home screen on an enrolled tablet.

Not a test. Enrolls a tablet data dir against the real server (gunicorn, demo accounts and records, as `make run`),
stops the server (the tablet starts offline, as in a stairwell), then starts the app in fresh subprocesses and
prints the median time to its first drawn frame of the home screen beside a minimal Kivy App's first frame,
measured the same way in the same run. Runs under Xvfb (started here when there is no DISPLAY).
Target (issue): under 2 s to the home screen.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNS = 5

CHILD = r'''
import os, sys, time
started = float(sys.argv[2])
from kivy.config import Config
Config.set("graphics", "width", "1280"); Config.set("graphics", "height", "800")
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window

def report(name):
    def first_frame(*_):
        # on_flip fires after a frame was drawn and shown
        print("FIRST_FRAME", name, time.time() - started, flush=True)
        Clock.schedule_once(lambda dt: App.get_running_app().stop(), 0)
        Window.unbind(on_flip=first_frame)
    return first_frame

if sys.argv[1] == "minimal":
    from kivy.uix.label import Label
    class Minimal(App):
        def build(self):
            return Label(text="Wangge")
        def on_start(self):
            Window.bind(on_flip=report("minimal"))
    Minimal().run()
else:
    from field_app.ui.app import WanggeApp
    class Measured(WanggeApp):
        def on_start(self):
            assert self.screen_manager.current == "home", self.screen_manager.current
            Window.bind(on_flip=report("home"))
    Measured(data_dir=sys.argv[3], auto_sync_interval=0).run()
'''


def enrolled_data_dir() -> Path:
    from bench.live_server import LiveServer
    from field_app.core.app import FieldCore

    data_dir = Path(tempfile.mkdtemp(prefix="wangge-tablet-"))
    with LiveServer(workers=1) as server:
        server.flask("demo", "load")
        out = subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "server", "devices",
                              "enrollment-code", "demo-grid"], cwd=ROOT, env=server.env, check=True,
                             capture_output=True, text=True).stdout
        code = next(line.split()[1] for line in out.splitlines() if line.startswith("code:"))
        core = FieldCore(data_dir)
        core.enroll(server.url, code, label="bench tablet")
        records = len(core.records())
        core.close()
    print(f"enrolled tablet: demo-grid, {records} records pulled; server stopped (the app starts offline)")
    return data_dir


def ensure_display():
    if os.environ.get("DISPLAY"):
        return None
    display = ":97"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["DISPLAY"] = display
    time.sleep(1.0)
    return xvfb


def first_frame(kind: str, data_dir: Path, kivy_home: str, child: Path) -> float:
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_NO_FILELOG": "1", "KIVY_LOG_MODE": "PYTHON",
           "KIVY_USE_DEFAULTCONFIG": "1", "KIVY_HOME": kivy_home, "PYTHONPATH": str(ROOT)}
    started = time.time()
    out = subprocess.run([sys.executable, str(child), kind, repr(started), str(data_dir)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("FIRST_FRAME"):
            return float(line.split()[2])
    raise RuntimeError(f"{kind} app did not draw a frame:\n{out.stdout}\n{out.stderr[-3000:]}")


def main() -> None:
    xvfb = ensure_display()
    data_dir = enrolled_data_dir()
    kivy_home = tempfile.mkdtemp(prefix="kivy-home-")
    child = Path(kivy_home) / "first_frame.py"  # Kivy's App needs its class in a real file
    child.write_text(CHILD)
    try:
        first_frame("minimal", data_dir, kivy_home, child)  # warm the OS file cache for both
        results = {"minimal": [], "home": []}
        for _ in range(RUNS):
            for kind in results:
                results[kind].append(first_frame(kind, data_dir, kivy_home, child))
        minimal, home = (statistics.median(results[k]) for k in ("minimal", "home"))
        print(f"process start -> first frame, median of {RUNS} (Xvfb, llvmpipe):")
        print(f"  minimal Kivy App          {minimal:6.2f} s")
        print(f"  Wangge home screen        {home:6.2f} s   (+{home - minimal:.2f} s over the minimal app;"
              f" target < 2 s: {'met' if home < 2 else 'MISSED'})")
        print(json.dumps({k: [round(v, 3) for v in vs] for k, vs in results.items()}))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(kivy_home, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()


if __name__ == "__main__":
    main()
