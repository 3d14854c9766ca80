"""Web benchmark: the grid statistics and the review queue over 1,000,000 records. Not a test.

    .venv/bin/python bench/web.py [--records 1000000] [--runs 15] [--keep DIR]

Builds a SQLite database in a temporary folder with the migrations and the 1,110 grids, fills it with
bench/generate_records.py (1,000,000 records over a year, 100,000 of them in community 420502001001), then times,
in-process through the Flask test client (median of N warm runs, after one discarded run):
  - GET /api/v1/stats/grids (bearer token of a city viewer), each metric, the map's default window (30 days) and a
    whole year, beside two baselines on the same database in the same run: the endpoint's own SQL run bare
    (sqlite3: no ORM, no HTTP, no JSON) and the plain SQL GROUP BY (grid_code, count(*) over the window). Targets:
    < 150 ms, and at most 2x the bare SQL. For `records` the two baselines are the same query; the other metrics
    do more work in the database (status filters, the deadline rule's join, distinct days), which the own-SQL
    column measures.
  - the same through the map page's session route /map/stats/grids.json (signed in through the form);
  - GET /review as demo-supervisor (community 420502001001, 100,000 records; signed in through the form), beside the
    floor of an in-process request (GET /api/v1/health). Target: < 150 ms.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate_records import HOT_COMMUNITY, generate  # noqa: E402

TARGET_MS = 150.0
RATIO_TARGET = 2.0


def median_ms(fn, runs: int) -> float:
    fn()  # warm: caches, statement cache, pages in memory
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def build(folder: Path, records: int) -> tuple[object, Path, dict]:
    from flask_migrate import upgrade

    from grids import DATASET_PATH
    from server import create_app
    from server.demo import load_demo_accounts
    from server.extensions import db
    from server.geo.importer import import_file

    path = folder / "wangge.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "INSTANCE_PATH": str(folder / "instance"),
                      "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        import_file(DATASET_PATH)
        load_demo_accounts()
        db.session.commit()
        db.engine.dispose()
    started = time.perf_counter()
    summary = generate(str(path), records)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return app, path, summary


def sign_in(client, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": "wangge-demo", "csrf_token": token})
    assert response.status_code == 302, response.status_code


def bare_sql(path: Path):
    con = sqlite3.connect(path)
    con.execute("PRAGMA cache_size=-65536")

    def run(sql: str, params) -> int:
        return len(con.execute(sql, params).fetchall())

    return run


def compiled(app, metric: str, first, last) -> tuple[str, list]:
    """The endpoint's own statement for `metric`, as SQL text and parameters for sqlite3."""
    from server.accounts.scope import Scope
    from server.maps import services

    with app.app_context():
        from server.extensions import db

        window = services.resolve_window(first, last)
        categories = services.categories_for(_city_principal(), metric, "grids", None)
        query = services.grid_query(metric, categories, window, Scope(("420500",)), services.utcnow())
        statement = query.compile(db.engine, compile_kwargs={"render_postcompile": True})
        params = [statement.params[name] for name in statement.positiontup]
        processors = statement._bind_processors
        params = [processors[name](value) if name in processors else value
                  for name, value in zip(statement.positiontup, params)]
        return str(statement), params


def _city_principal():
    from server.accounts.auth import Principal
    from server.accounts.models import User
    from server.extensions import db

    return Principal(user=db.session.query(User).filter_by(username="demo-city").one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", help="build the database in this folder and keep it; reuse it when it is there")
    args = parser.parse_args()

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="wangge-bench-web-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if args.keep and (folder / "wangge.db").exists():
            from server import create_app

            path = folder / "wangge.db"
            app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                              "INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "bench"})
            print(f"reusing {path}", flush=True)
        else:
            print(f"building {args.records:,} records in {folder} ...", flush=True)
            app, path, summary = build(folder, args.records)
            print(f"generated in {summary['seconds']} s: {summary['by_category']}, "
                  f"{summary['hot_records']:,} in community {HOT_COMMUNITY}", flush=True)
        with sqlite3.connect(path) as con:
            total = con.execute("SELECT count(*) FROM records").fetchone()[0]
        print(f"records in the database: {total:,}")
        run(app, path, args.runs)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def run(app, path: Path, runs: int) -> None:
    from server.accounts.models import User
    from server.accounts.tokens import issue_token
    from server.extensions import db
    from server.maps import services

    with app.app_context():
        token, _ = issue_token(db.session.query(User.id).filter_by(username="demo-city").scalar())
        db.session.commit()
        today = services.today_in_china()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    page = app.test_client()
    sign_in(page, "demo-city")
    supervisor = app.test_client()
    sign_in(supervisor, "demo-supervisor")
    bare = bare_sql(path)
    windows = {"30 days": (today - timedelta(days=29), today), "365 days": (today - timedelta(days=364), today)}
    group_by = ("SELECT grid_code, count(*) FROM records WHERE occurred_at >= ? AND occurred_at < ? "
                "GROUP BY grid_code")

    print(f"\nGET /api/v1/stats/grids (bearer token, city viewer), median of {runs} warm runs, in-process")
    print("baselines, same database, same run: the endpoint's own SQL run bare (sqlite3), and the bare GROUP BY")
    print("(SELECT grid_code, count(*) ... WHERE occurred_at in the window GROUP BY grid_code)")
    print(f"{'metric':<15} {'window':<9} {'endpoint':>9} {'own SQL':>9} {'ratio':>6} {'GROUP BY':>9} {'ratio':>6} "
          f"{'session':>9}  verdict (< {TARGET_MS:.0f} ms, <= {RATIO_TARGET:.0f}x own SQL)")
    failures = []
    for label, (first, last) in windows.items():
        with app.app_context():
            window = services.resolve_window(first, last)
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        bounds = (window.start.strftime(fmt), window.end.strftime(fmt))
        baseline = median_ms(lambda: bare(group_by, bounds), runs)
        for metric in services.METRICS:
            query = {"metric": metric, "from": first.isoformat(), "to": last.isoformat()}

            def endpoint():
                response = api.get("/api/v1/stats/grids", query_string=query, headers=headers)
                assert response.status_code == 200, response.get_json()
                assert len(response.get_json()["grids"]) == 1110

            def session_route():
                response = page.get("/map/stats/grids.json", query_string=query)
                assert response.status_code == 200, response.status_code

            sql, params = compiled(app, metric, first, last)
            own = median_ms(lambda: bare(sql, params), runs)
            took = median_ms(endpoint, runs)
            twin = median_ms(session_route, runs)
            ok = took < TARGET_MS and took / own <= RATIO_TARGET
            if not ok:
                failures.append(f"stats {metric} {label}")
            print(f"{metric:<15} {label:<9} {took:>7.1f}ms {own:>7.1f}ms {took / own:>5.2f}x {baseline:>7.1f}ms "
                  f"{took / baseline:>5.2f}x {twin:>7.1f}ms  {'ok' if ok else 'MISSED'}")

    floor = median_ms(lambda: api.get("/api/v1/health"), runs)
    with sqlite3.connect(path) as con:
        in_community = con.execute("SELECT count(*) FROM records WHERE community_code = ?",
                                   (HOT_COMMUNITY,)).fetchone()[0]
    first_page = ("SELECT * FROM records WHERE community_code = ? AND category IN "
                  "('labor_service', 'mediation', 'visit_round') ORDER BY received_at DESC, id DESC LIMIT 51")
    bare_page = median_ms(lambda: bare(first_page, (HOT_COMMUNITY,)), runs)

    def review():
        response = supervisor.get("/review")
        assert response.status_code == 200, response.status_code

    start = time.perf_counter()
    review()  # the first request after start-up: whatever the queue caches is still empty
    cold_ms = (time.perf_counter() - start) * 1000
    review_ms = median_ms(review, runs)
    ok = review_ms < TARGET_MS
    if not ok:
        failures.append("review queue")
    print(f"\nGET /review as demo-supervisor (session), community {HOT_COMMUNITY} with {in_community:,} records")
    print(f"{'review queue':<25} {review_ms:>8.1f}ms   target < {TARGET_MS:.0f} ms: {'ok' if ok else 'MISSED'}")
    print(f"{'  first request (cold)':<25} {cold_ms:>8.1f}ms   (not a warm run; for information)")
    print(f"{'  baseline: first page SQL':<25} {bare_page:>8.1f}ms   (sqlite3, no ORM, 51 rows)")
    print(f"{'  baseline: request floor':<25} {floor:>8.1f}ms   (GET /api/v1/health, in-process)")
    print("\nall targets met" if not failures else f"\nMISSED: {', '.join(failures)}")


if __name__ == "__main__":
    main()
