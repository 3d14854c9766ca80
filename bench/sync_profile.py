"""Where a sync push spends its time, per record: the profile behind bench/sync_ingest.py. Not a test.

Runs pushes of 500 new records in-process (Flask test client, no HTTP) against a migrated SQLite database with the
grids loaded, and prints:
  - the wall time per record of each push as the tables grow (random-UUID index inserts cost more as they grow);
  - the time per record inside each phase of the push (validation, preparation, idempotency lookups, inserts, ...),
    measured with timers wrapped around the service functions, beside the raw sqlite3 insert of the same rows.

    .venv/bin/python bench/sync_profile.py [--records 20000]
"""
from __future__ import annotations

import argparse
import collections
import functools
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from bench.live_server import LiveServer  # noqa: E402
from bench.sync_ingest import enroll_tablets, make_batches, raw_sqlite_rate, stored  # noqa: E402

spent: collections.Counter = collections.Counter()


def timed(module, name: str) -> None:
    original = getattr(module, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[f"{module.__name__.removeprefix('server.')}.{name}"] += time.perf_counter() - start
    setattr(module, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20000)
    args = parser.parse_args()
    server = LiveServer(workers=1)  # only its instance folder and CLI: no gunicorn is started
    server.flask("db", "upgrade")
    server.flask("grids", "import", str(ROOT / "grids" / "yichang.geojson"))
    token = enroll_tablets(server, 1)[0]

    from server import create_app
    from server.warmup import warm_up
    from server.records import services as records
    from server.sync import routes, services

    for module, name in [(services, "_prepare"), (services, "_acknowledged"), (services, "existing_record_ids"),
                         (services, "_insert_creates"), (services, "record_health"), (services, "load_mutation"),
                         (services, "prepare_create"), (services, "body_hash"), (records, "_load"),
                         (records, "_grid"), (routes, "json_body"), (routes, "jsonify"), (routes.services, "push")]:
        timed(module, name)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{server.instance / 'wangge.db'}"})
    warm_up(app)  # as gunicorn.conf.py does for every worker
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    batches = make_batches(args.records, 500)
    bodies = [('{"mutations":[' + ",".join(batch) + "]}").encode() for batch in stored(batches)]  # as the tablet
    per_push, start = [], time.perf_counter()
    for body in bodies:
        began = time.perf_counter()
        assert client.post("/api/v1/sync/push", data=body, headers=headers).status_code == 200
        per_push.append((time.perf_counter() - began) / 500 * 1e6)
    total = (time.perf_counter() - start) / args.records * 1e6
    raw = 1e6 / raw_sqlite_rate(batches)
    os.environ.pop("WANGGE_INSTANCE_PATH", None)
    server.__exit__()

    print(f"sync push profile (in-process, SQLite, {args.records} records in pushes of 500)")
    print(f"  baseline: raw sqlite3 executemany of the same rows   {raw:6.1f} µs a row")
    print(f"  whole push                                           {total:6.1f} µs a record"
          f"   ({total / raw:.1f}x raw)")
    quarter = max(1, len(per_push) // 4)
    print("  per push, by quarter of the run (tables growing):    "
          + "  ".join(f"{sum(per_push[i:i + quarter]) / len(per_push[i:i + quarter]):.1f}"
                      for i in range(0, quarter * 4, quarter)))
    print("  inside the push (µs a record; nested phases are also inside their callers):")
    for name, seconds in spent.most_common():
        print(f"    {name:40s} {seconds / args.records * 1e6:6.1f}")


if __name__ == "__main__":
    main()
