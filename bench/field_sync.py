"""Tablet sync benchmark: 1,000 records saved on a tablet store (FieldCore on SQLite, WAL, synchronous=FULL), then
synced to the real server (gunicorn, 2 workers, SQLite), beside the server's own batch-ingest rate measured in the
same run (the same number of fresh records pushed directly with requests, in batches of the same size).

Not a test. Prints, one figure a line, each beside its baseline or target:
  - local save (submit) time per record                         target < 10 ms
  - the tablet's push phase, records/s, vs. the direct push     target: the tablet adds <= 50 % to the server's cost
  - the whole sync (push + pull of the same records back), records/s, vs. the direct push
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from bench.live_server import LiveServer  # noqa: E402
from field_app.core.app import FieldCore  # noqa: E402
from field_app.core.engine import PULL_LIMIT, PUSH_BATCH  # noqa: E402
from sync_support import create, mediation_fields  # noqa: E402

GRID = "420502001001001"          # the tablet's grid
DIRECT_GRID = "420502001001002"   # the direct client's, so that the tablet's pull sees only its own records


def server_app(server: LiveServer):
    os.environ["WANGGE_INSTANCE_PATH"] = str(server.instance)
    from server import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{server.instance / 'wangge.db'}"})


def enrollment_codes(server: LiveServer, grids: list[str]) -> list[str]:
    """One-time codes for grid administrators, made through the real services on the server's own database."""
    from server.accounts.services import create_user
    from server.devices.services import create_enrollment
    from server.extensions import db

    app, codes = server_app(server), []
    with app.app_context():
        for n, grid in enumerate(grids):
            user = create_user(f"tablet-{n}", "bench-password", "grid_admin", [grid])
            db.session.commit()
            codes.append(create_enrollment(user)[0])
            db.session.commit()
    return codes


def direct_push(url: str, token: str, n: int, batch: int) -> float:
    mutations = [create(grid_code=DIRECT_GRID) for _ in range(n)]
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = time.perf_counter()
    for i in range(0, n, batch):
        response = session.post(url + "/api/v1/sync/push", data=json.dumps({"mutations": mutations[i:i + batch]}),
                                 headers=headers, timeout=300)
        response.raise_for_status()
        assert {r["status"] for r in response.json()["results"]} == {"applied"}
    return time.perf_counter() - start


def warm_workers(url: str, token: str, workers: int = 2, rounds: int = 3) -> None:
    """Concurrent small pushes, so that every sync worker (one request at a time each) serves some."""
    for _ in range(rounds):
        threads = [threading.Thread(target=direct_push, args=(url, token, 10, PUSH_BATCH)) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def direct_pull(url: str, token: str, limit: int) -> tuple[float, int]:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    cursor, count, start = None, 0, time.perf_counter()
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = session.get(url + "/api/v1/sync/pull", params=params, headers=headers, timeout=300)
        response.raise_for_status()
        body = response.json()
        count += len(body["changes"])
        cursor = body["cursor"]
        if not body["has_more"]:
            return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1000)
    args = parser.parse_args()
    n = args.records

    with LiveServer(workers=2) as server, tempfile.TemporaryDirectory() as folder:
        tablet_code, direct_code = enrollment_codes(server, [GRID, DIRECT_GRID])
        direct_token = requests.post(server.url + "/api/v1/devices/enroll", json={"code": direct_code},
                                     timeout=30).json()["token"]
        core = FieldCore(Path(folder) / "tablet")
        core.enroll(server.url, tablet_code, label="bench tablet")

        saves = []
        for i in range(n):
            record = core.new_record("mediation", GRID)
            record.fields = mediation_fields(summary=f"楼上噪音扰民 {i}")
            start = time.perf_counter()
            core.submit(record)
            saves.append(time.perf_counter() - start)
        assert core.health().outbox_depth == n

        # warm both gunicorn workers (each builds its caches on its first push; the tablet's connection may land on
        # either), then measure the direct path before and after the tablet and keep the faster run as the
        # baseline (the conservative choice for the ratio)
        warm_workers(server.url, direct_token)
        before_s = direct_push(server.url, direct_token, n, PUSH_BATCH)

        marks = {}

        def progress(done, total, phase):
            marks.setdefault(phase, time.perf_counter())

        start = time.perf_counter()
        report = core.sync(progress=progress)
        total_s = time.perf_counter() - start
        assert report.ok and report.pushed == n, report
        push_s = marks["photos"] - start

        baseline_s = min(before_s, direct_push(server.url, direct_token, n, PUSH_BATCH))
        # the pull half of a sync, done directly: the direct client's records (about 2n) in pages of the same size
        pull_s, pulled = direct_pull(server.url, direct_token, PULL_LIMIT)
        pull_per_record_s = pull_s / pulled
        core.close()

    per_record_ms = 1000 * statistics.mean(saves)
    p95_ms = 1000 * sorted(saves)[int(0.95 * n) - 1]
    print(f"tablet sync benchmark ({n} mediation records, push batches of {PUSH_BATCH}, gunicorn 2 workers, SQLite)")
    print(f"  local save (submit), mean per record     {per_record_ms:8.2f} ms     p95 {p95_ms:.2f} ms   target < 10 ms")
    print(f"  baseline: direct push with requests      {n / baseline_s:8.0f} records/s   {baseline_s:.2f} s")
    print(f"  tablet push phase                        {n / push_s:8.0f} records/s   {push_s:.2f} s"
          f"   overhead {100 * (push_s / baseline_s - 1):+.0f}% over the direct push   target <= +50%")
    direct_sync_s = baseline_s + pull_per_record_s * report.pulled
    print(f"  baseline: direct push + direct pull      {n / direct_sync_s:8.0f} records/s   {direct_sync_s:.2f} s"
          f"   (pull measured on {pulled} records, scaled to the {report.pulled} the tablet pulled)")
    print(f"  tablet whole sync (push + pull back)     {n / total_s:8.0f} records/s   {total_s:.2f} s"
          f"   overhead {100 * (total_s / direct_sync_s - 1):+.0f}% over direct push + pull   target <= +50%")


if __name__ == "__main__":
    main()
