"""Benchmark fixture: a year of records across the grids, written with raw executemany inserts (not the sync path).

    .venv/bin/python bench/generate_records.py INSTANCE/wangge.db --total 1000000

The database must already have the schema (migrations) and the grids. Records get realistic categories, statuses
and times: occurred over the last 365 days in working hours (China time), received minutes to days later, older
cases mostly closed, recent ones still reported/accepted/dispatched, a few left open past their time limits.
`--hot-count` of them (100,000 by default) fall in `--hot-community` (420502001001, the demo supervisor's), so the
review queue has a large community. Each hot-community record also gets its `create` history row (the review pages
read history); the rest get none, which the stats never read. The content is small and has no personal data.
"""
from __future__ import annotations

import argparse
import json
import random
import sqlite3
import time
import uuid
from datetime import datetime, timedelta, timezone

HOT_COMMUNITY = "420502001001"
AUTHOR = "bench-grid"
# Roughly what a grid administrator records: visit rounds most, then services and mediation, few integrity concerns.
CATEGORY_WEIGHTS = (("visit_round", 48), ("labor_service", 25), ("mediation", 24), ("integrity", 3))
SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite (UTC, no offset)

CONTENT = {
    "mediation": lambda r: {"dispute_type": r.choice(["neighbour", "family", "property_management", "tenancy",
                                                       "wages", "land_housing", "other"]),
                            "summary": "（基准数据）纠纷概要", "outcome": r.choice(["agreement", "in_progress",
                                                                            "referred", "failed"])},
    "labor_service": lambda r: {"service_type": r.choice(["employment_registration", "unemployment_registration",
                                                           "job_referral", "training_signup"]),
                                "outcome": r.choice(["completed", "referred", "in_progress"])},
    "integrity": lambda r: {"urgency": r.choice(["normal", "normal", "urgent"])},
    "visit_round": lambda r: {"topics": r.sample(["environment", "disputes", "safety", "employment"], 2),
                              "leaflets_delivered": r.randint(0, 12)},
}


def _status(r: random.Random, category: str, age_days: float) -> str:
    if category == "visit_round":  # reviewed (accepted) within a day or so, a few left waiting or returned
        return "reported" if age_days < 1 else r.choices(["accepted", "reported", "returned"], [97, 2, 1])[0]
    if age_days < 1:
        return r.choices(["reported", "accepted"], [80, 20])[0]
    if age_days < 20:
        return r.choices(["reported", "accepted", "dispatched", "handled", "verified", "closed", "returned",
                          "not_accepted"], [6, 20, 20, 15, 10, 23, 3, 3])[0]
    return r.choices(["closed", "not_accepted", "returned", "handled", "dispatched", "accepted", "reported"],
                     [86, 5, 2, 3, 2, 1, 1])[0]


def _grid_rows(con: sqlite3.Connection) -> list[tuple]:
    return con.execute(
        "SELECT g.id, g.code, c.code, s.code, d.code, COALESCE(g.households, 300) FROM grids g "
        "JOIN communities c ON g.community_id = c.id JOIN streets s ON c.street_id = s.id "
        "JOIN districts d ON s.district_id = d.id WHERE g.retired_at IS NULL ORDER BY g.code").fetchall()


def _author(con: sqlite3.Connection) -> int:
    row = con.execute("SELECT id FROM users WHERE username = ?", (AUTHOR,)).fetchone()
    if row:
        return row[0]
    # A placeholder account that can never sign in ("!" is no argon2 hash); records need an author.
    now = datetime.now(timezone.utc).strftime(SQLITE_FORMAT)
    cur = con.execute("INSERT INTO users (username, display_name, role, password_hash, active, created_at) "
                      "VALUES (?, ?, 'grid_admin', '!', 0, ?)", (AUTHOR, AUTHOR, now))
    return cur.lastrowid


def generate(path: str, total: int = 1_000_000, hot_community: str = HOT_COMMUNITY, hot_count: int = 100_000,
             seed: int = 20261201, batch: int = 50_000, now: datetime | None = None) -> dict:
    """Insert `total` records; returns counts per category and for the hot community."""
    r = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-262144")  # 256 MB: the six indexes on records stay in memory while filling
    grids = _grid_rows(con)
    hot = [g for g in grids if g[2] == hot_community]
    cold = [g for g in grids if g[2] != hot_community]
    if not hot:
        raise SystemExit(f"community {hot_community} has no grids: import the grids first")
    cold_weights = [g[5] for g in cold]
    author = _author(con)
    categories, weights = zip(*CATEGORY_WEIGHTS)
    counts: dict[str, int] = {}
    record_sql = (
        "INSERT INTO records (id, category, grid_id, grid_code, community_code, street_code, district_code, status, "
        "urgency, version, content, confidential, occurred_at, received_at, updated_at, created_by_id, "
        "open_conflicts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, 0)")
    change_sql = ("INSERT INTO record_changes (record_id, version, kind, at, actor_id, changes) "
                  "VALUES (?, 1, 'create', ?, ?, ?)")
    hot_left = min(hot_count, total)
    done = 0
    started = time.perf_counter()
    while done < total:
        size = min(batch, total - done)
        n_hot = round(size * hot_left / (total - done))
        chosen = r.choices(hot, k=n_hot) + r.choices(cold, weights=cold_weights, k=size - n_hot)
        hot_left -= n_hot
        rows, changes = [], []
        for grid, category in zip(chosen, r.choices(categories, weights=weights, k=size)):
            day = r.random() * 365
            # Working hours in China time (UTC+8): 08:00-18:00 local is 00:00-10:00 UTC.
            occurred = (now - timedelta(days=int(day) + 1)).replace(hour=0, minute=0, second=0, microsecond=0) \
                + timedelta(seconds=r.randrange(0, 10 * 3600))
            received = occurred + timedelta(minutes=r.expovariate(1 / 240))  # offline for a while, sometimes days
            received = min(received, now)
            age = (now - received).total_seconds() / 86400
            content = CONTENT[category](r)
            occurred_s, received_s = occurred.strftime(SQLITE_FORMAT), received.strftime(SQLITE_FORMAT)
            record_id = str(uuid.UUID(int=r.getrandbits(128), version=4))
            rows.append((record_id, category, grid[0], grid[1], grid[2], grid[3], grid[4],
                         _status(r, category, age), content.get("urgency"), json.dumps(content, ensure_ascii=False),
                         json.dumps({"description": "（基准数据）"}, ensure_ascii=False) if category == "integrity"
                         else None, occurred_s, received_s, received_s, author))
            if grid[2] == hot_community:
                changes.append((record_id, received_s, author, json.dumps(
                    {k: {"old": None, "new": v} for k, v in content.items()}, ensure_ascii=False)))
            counts[category] = counts.get(category, 0) + 1
        with con:
            con.executemany(record_sql, rows)
            if changes:
                con.executemany(change_sql, changes)
        done += size
    con.execute("ANALYZE")
    con.close()
    return {"total": total, "hot_community": hot_community, "hot_records": min(hot_count, total), "by_category": counts,
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="path of the SQLite database (schema and grids already loaded)")
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--hot-community", default=HOT_COMMUNITY)
    parser.add_argument("--hot-count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    print(json.dumps(generate(args.database, args.total, args.hot_community, args.hot_count, args.seed),
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
