"""The grid API against the shipped 1,110 grids, on SQLite and PostgreSQL."""
import gzip
import json

import pytest
from shapely.geometry import shape

GEOJSON = "application/geo+json"


def _collection(client, query=""):
    response = client.get(f"/api/v1/grids{query}")
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == GEOJSON
    return response, json.loads(response.data)


def test_full_collection_is_rfc7946_with_every_grid(client):
    _, body = _collection(client)
    assert body["type"] == "FeatureCollection"
    features = body["features"]
    assert len(features) == 1110
    assert len({f["id"] for f in features}) == 1110
    first = features[0]
    assert first["type"] == "Feature" and first["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert set(first["properties"]) == {"code", "name", "community_code", "community_name", "street_code",
                                        "street_name", "district_code", "district_name", "households"}
    assert first["properties"]["code"] == first["id"]
    assert first["properties"]["community_code"] == first["id"][:12]
    assert shape(first["geometry"]).exterior.is_ccw


def test_gzip_and_conditional_requests(client):
    plain, body = _collection(client)
    zipped = client.get("/api/v1/grids", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.data)) == body
    assert len(zipped.data) < len(plain.data) / 3
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert plain.headers["ETag"] != zipped.headers["ETag"]

    again = client.get("/api/v1/grids", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # A stale tag gets the full body.
    stale = client.get("/api/v1/grids", headers={"If-None-Match": '"not-the-tag"'})
    assert stale.status_code == 200 and len(json.loads(stale.data)["features"]) == 1110


@pytest.mark.parametrize("query,prefix,expected", [
    ("?district=420503", "420503", None),
    ("?street=420502002", "420502002", None),
    ("?community=420502001001", "420502001001", None),
    ("?district=420599", "420599", 0),
])
def test_code_filters(client, query, prefix, expected):
    _, body = _collection(client, query)
    codes = [f["id"] for f in body["features"]]
    assert all(code.startswith(prefix) for code in codes)
    if expected is None:
        assert 0 < len(codes) < 1110
    else:
        assert len(codes) == expected


def test_filters_give_different_etags(client):
    one = client.get("/api/v1/grids?district=420502").headers["ETag"]
    two = client.get("/api/v1/grids?district=420503").headers["ETag"]
    assert one != two


def test_bbox_filter_returns_exactly_the_intersecting_grids(client):
    _, everything = _collection(client)
    geometry = shape(everything["features"][40]["geometry"])
    lon, lat = geometry.centroid.x, geometry.centroid.y
    window = (lon - 0.002, lat - 0.002, lon + 0.002, lat + 0.002)
    _, body = _collection(client, "?bbox=" + ",".join(map(str, window)))
    from shapely.geometry import box
    expected = {f["id"] for f in everything["features"] if shape(f["geometry"]).intersects(box(*window))}
    assert {f["id"] for f in body["features"]} == expected
    assert everything["features"][40]["id"] in expected and len(expected) < 30


@pytest.mark.parametrize("query,field", [
    ("?district=4205", "district"),
    ("?street=abc", "street"),
    ("?community=42050200100", "community"),
    ("?bbox=1,2,3", "bbox"),
    ("?bbox=111.3,30.7,111.2,30.8", "bbox"),
    ("?bbox=a,b,c,d", "bbox"),
    ("?colour=red", "colour"),
])
def test_bad_filters_are_400_naming_the_argument(client, query, field):
    response = client.get(f"/api/v1/grids{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "bad_request" and body["status"] == 400
    assert field in body["errors"]


def test_one_grid(client):
    response = client.get("/api/v1/grids/420502001001001")
    assert response.status_code == 200 and response.mimetype == GEOJSON
    feature = response.get_json()
    assert feature["type"] == "Feature" and feature["id"] == "420502001001001"
    assert feature["properties"]["district_name"] == "西陵区"


def test_unknown_and_malformed_grid_codes(client):
    missing = client.get("/api/v1/grids/420502001001999")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    malformed = client.get("/api/v1/grids/42050200100100")
    assert malformed.status_code == 400 and "code" in malformed.get_json()["errors"]


def test_locate_finds_the_grid_containing_a_point(client):
    _, body = _collection(client, "?community=420503002003")
    for feature in body["features"]:
        point = shape(feature["geometry"]).representative_point()
        response = client.get(f"/api/v1/grids/locate?lon={point.x}&lat={point.y}")
        assert response.status_code == 200
        assert response.get_json()["id"] == feature["id"]


def test_locate_outside_every_grid_is_404(client):
    response = client.get("/api/v1/grids/locate?lon=116.39&lat=39.91")  # Beijing
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


@pytest.mark.parametrize("query,field", [
    ("?lon=111.3", "lat"),
    ("?lat=30.7", "lon"),
    ("?lon=181&lat=30.7", "lon"),
    ("?lon=111.3&lat=-91", "lat"),
    ("?lon=east&lat=30.7", "lon"),
    ("?lon=nan&lat=30.7", "lon"),
])
def test_locate_bad_coordinates_are_400(client, query, field):
    response = client.get(f"/api/v1/grids/locate{query}")
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_community_tree(client):
    tree = client.get("/api/v1/communities").get_json()
    assert tree["grid_count"] == 1110 and tree["community_count"] == 121
    districts = {d["code"]: d for d in tree["districts"]}
    assert districts["420502"]["name"] == "西陵区"
    assert sum(d["grid_count"] for d in tree["districts"]) == 1110
    for district in tree["districts"]:
        for street in district["streets"]:
            assert street["code"].startswith(district["code"])
            for community in street["communities"]:
                assert community["code"].startswith(street["code"])
                assert 5 <= community["grid_count"] <= 14


def test_health(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["server_time"].endswith("Z")


@pytest.mark.parametrize("method,url,status", [
    ("get", "/api/v1/nothing-here", 404),
    ("post", "/api/v1/grids", 405),
    ("delete", "/api/v1/health", 405),
])
def test_http_errors_use_the_json_error_shape(client, method, url, status):
    response = getattr(client, method)(url)
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["status"] == status
    assert response.headers["X-Server-Time"].endswith("Z")
