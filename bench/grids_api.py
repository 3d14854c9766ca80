"""Grid API benchmark: full collection warm and 304, gzip size, and locate against a brute-force scan.

Not a test. Prints each figure beside a baseline measured in the same run:
  - warm full FeatureCollection over HTTP vs. building it without the cache (query + geojson + gzip, in-process)
    and vs. the HTTP floor (GET /api/v1/health);
  - a 304 revalidation vs. the same HTTP floor;
  - gzip size vs. the uncompressed body;
  - locate lookups/s through the raster index vs. a brute-force scan of every polygon (same points, same answers),
    and the HTTP locate endpoint's rate.
Targets (issue 2): full collection < 50 ms warm, 304 < 5 ms, locate >= 50x the brute-force scan.
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.live_server import LiveServer  # noqa: E402


def median_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def in_process_figures(instance_db: str) -> tuple[float, float, float, int]:
    """Uncached build time of the full collection, and locate rates with and without the tree."""
    from server import create_app
    from server.geo import services

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance_db}"})
    with app.app_context():
        revision, _ = services.collection_etag({})

        def uncached():
            app.extensions.pop("wangge.geo_caches", None)
            services.grid_collection({}, revision)

        build_ms = median_ms(uncached, 10)
        locator = services.locator()
        rng = random.Random(7)
        (min_lon, min_lat), (max_lon, max_lat) = (111.24, 30.48), (111.50, 30.77)
        points = []
        while len(points) < 2000:  # points inside grids, so both methods do full work
            point = (rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat))
            if locator.locate(*point):
                points.append(point)
        start = time.perf_counter()
        tree_answers = [locator.locate(*p) for p in points]
        tree_rate = len(points) / (time.perf_counter() - start)
        sample = points[:200]
        start = time.perf_counter()
        brute_answers = [locator.locate_brute_force(*p) for p in sample]
        brute_rate = len(sample) / (time.perf_counter() - start)
        assert tree_answers[:200] == brute_answers, "tree and brute force disagree"
    return build_ms, tree_rate, brute_rate, len(points)


def main() -> None:
    with LiveServer(workers=1) as server:
        session = requests.Session()
        url = server.url + "/api/v1/grids"
        gz = {"Accept-Encoding": "gzip"}
        first = session.get(url, headers=gz)
        cold_ms = first.elapsed.total_seconds() * 1000
        etag = first.headers["ETag"]
        raw_size = len(session.get(url, headers={"Accept-Encoding": "identity"}).content)
        gzip_size = int(first.headers["Content-Length"])

        floor_ms = median_ms(lambda: session.get(server.url + "/api/v1/health"), 100)
        warm_gz_ms = median_ms(lambda: session.get(url, headers=gz), 50)
        warm_raw_ms = median_ms(lambda: session.get(url, headers={"Accept-Encoding": "identity"}), 50)

        def revalidate():
            assert session.get(url, headers={**gz, "If-None-Match": etag}).status_code == 304

        not_modified_ms = median_ms(revalidate, 200)

        build_ms, tree_rate, brute_rate, n_points = in_process_figures(str(server.instance / "wangge.db"))

        rng = random.Random(3)
        http_points = [(rng.uniform(111.27, 111.35), rng.uniform(30.66, 30.74)) for _ in range(300)]
        start = time.perf_counter()
        for lon, lat in http_points:
            session.get(server.url + "/api/v1/grids/locate", params={"lon": lon, "lat": lat})
        http_rate = len(http_points) / (time.perf_counter() - start)

    print("grid API benchmark (gunicorn 1 worker, SQLite, 1,110 grids)")
    print(f"  full collection, warm, gzip      {warm_gz_ms:8.2f} ms   target < 50 ms")
    print(f"  full collection, warm, identity  {warm_raw_ms:8.2f} ms")
    print(f"    baseline: first request (cold) {cold_ms:8.2f} ms   ratio warm/cold {warm_gz_ms / cold_ms:.3f}")
    print(f"    baseline: uncached build       {build_ms:8.2f} ms   ratio warm/build {warm_gz_ms / build_ms:.3f}")
    print(f"    baseline: /health round trip   {floor_ms:8.2f} ms   ratio warm/floor {warm_gz_ms / floor_ms:.2f}")
    print(f"  304 revalidation                 {not_modified_ms:8.2f} ms   target < 5 ms; "
          f"ratio to /health {not_modified_ms / floor_ms:.2f}")
    print(f"  gzip size {gzip_size / 1024:8.1f} KiB  beside identity size {raw_size / 1024:8.1f} KiB"
          f"   ratio {gzip_size / raw_size:.3f}")
    print(f"  locate, raster index {tree_rate:10.0f} lookups/s ({n_points} points inside grids)")
    print(f"    baseline: brute-force scan {brute_rate:8.0f} lookups/s   speed-up {tree_rate / brute_rate:.0f}x"
          "   target >= 50x")
    print(f"  locate over HTTP     {http_rate:10.0f} requests/s")


if __name__ == "__main__":
    main()
