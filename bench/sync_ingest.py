"""Sync ingest benchmark: the real server (gunicorn, 2 workers, SQLite) taking 20,000 records in pushes of 500.

The client sends what a tablet sends: each mutation as its outbox stored it (compact UTF-8 JSON, encoded when the
record was saved), joined into the envelope at push time. The server is started with gunicorn.conf.py, as in
production (each worker warms up before its first request).

Not a test. Prints, beside a baseline from the same run:
  - records/s from one client, vs. a raw sqlite3 executemany of the same rows into a plain table (target >= 0.15);
  - records/s from two concurrent clients (each its own tablet and 20,000 records);
  - records/s replaying the same 20,000 (all duplicates);
  - the time to pull all of them (pages of 1,000).
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
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
from field_app.core.outbox import dumps as outbox_dumps  # noqa: E402
from sync_support import create  # noqa: E402

GRID = "420502001001001"


def enroll_tablets(server: LiveServer, count: int) -> list[str]:
    """Accounts and devices made through the real services, on the server's own database."""
    os.environ["WANGGE_INSTANCE_PATH"] = str(server.instance)
    from server import create_app
    from server.accounts.services import create_user
    from server.devices.services import create_enrollment, enroll
    from server.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{server.instance / 'wangge.db'}"})
    tokens = []
    with app.app_context():
        for n in range(count):
            user = create_user(f"bench-{n}", "bench-password", "grid_admin", [GRID])
            db.session.commit()
            code, _ = create_enrollment(user)
            db.session.commit()
            tokens.append(enroll(code, label=f"bench {n}", app_version="bench")[1])
    return tokens


def make_batches(n_records: int, batch: int) -> list[list[dict]]:
    mutations = [create(grid_code=GRID) for _ in range(n_records)]
    return [mutations[i:i + batch] for i in range(0, n_records, batch)]


def stored(batches: list[list[dict]]) -> list[list[str]]:
    """Each mutation as the tablet's outbox stores it when the record is saved (field_app/core/outbox.py)."""
    return [[outbox_dumps(mutation) for mutation in batch] for batch in batches]


def push_all(url: str, token: str, batches: list[list[str]], expect: str) -> float:
    """Push stored mutations the way the tablet does (field_app/core/engine.py `_envelope`): the stored JSON, byte
    for byte, joined into an envelope; the client encodes nothing at sync time."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = time.perf_counter()
    for batch in batches:
        body = ('{"mutations":[' + ",".join(batch) + "]}").encode("utf-8")
        response = session.post(url + "/api/v1/sync/push", data=body, headers=headers, timeout=300)
        response.raise_for_status()
        statuses = {r["status"] for r in response.json()["results"]}
        assert statuses == {expect}, statuses
    return time.perf_counter() - start


def pull_all(url: str, token: str) -> tuple[float, int]:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    cursor, count, start = None, 0, time.perf_counter()
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = session.get(url + "/api/v1/sync/pull", params=params, headers=headers, timeout=300).json()
        count += len(body["changes"])
        cursor = body["cursor"]
        if not body["has_more"]:
            return time.perf_counter() - start, count


def raw_sqlite_rate(batches: list[list[dict]]) -> float:
    """The same rows, executemany'd into a plain table in a WAL database, one commit per batch of 500."""
    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(os.path.join(folder, "raw.db"))
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE records (id TEXT PRIMARY KEY, category TEXT, grid_code TEXT, "
                           "occurred_at TEXT, content TEXT)")
        start = time.perf_counter()
        for batch in batches:
            rows = [(m["record_id"], m["category"], m["grid_code"], m["device_time"],
                     json.dumps(m["fields"], ensure_ascii=False)) for m in batch]
            connection.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
            connection.commit()
        elapsed = time.perf_counter() - start
        connection.close()
    return sum(len(b) for b in batches) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    batches = make_batches(args.records, args.batch)
    raw = raw_sqlite_rate(batches)
    with LiveServer(workers=2) as server:
        tokens = enroll_tablets(server, 3)
        bodies = stored(batches)
        one = args.records / push_all(server.url, tokens[0], bodies, "applied")
        replay = args.records / push_all(server.url, tokens[0], bodies, "duplicate")
        pull_seconds, pulled = pull_all(server.url, tokens[0])

        pair = [stored(make_batches(args.records, args.batch)) for _ in range(2)]
        elapsed = [0.0, 0.0]

        def run(i):
            elapsed[i] = push_all(server.url, tokens[1 + i], pair[i], "applied")

        start = time.perf_counter()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        two = 2 * args.records / (time.perf_counter() - start)

    print(f"sync ingest benchmark (gunicorn 2 workers, SQLite, {args.records} records in pushes of {args.batch})")
    print(f"  baseline: raw sqlite3 executemany      {raw:10.0f} rows/s")
    print(f"  push, one client                       {one:10.0f} records/s   ratio to raw {one / raw:.3f}"
          "   target >= 0.15")
    print(f"  push, two concurrent clients           {two:10.0f} records/s   ratio to raw {two / raw:.3f}"
          f"   ratio to one client {two / one:.2f}")
    print(f"  replay of the same {args.records} (duplicates) {replay:10.0f} records/s"
          f"   ratio to raw {replay / raw:.3f}")
    print(f"  pull all {pulled} records               {pull_seconds:10.2f} s   ({pulled / pull_seconds:.0f} records/s,"
          f" ratio to raw {pulled / pull_seconds / raw:.3f})")


if __name__ == "__main__":
    main()
