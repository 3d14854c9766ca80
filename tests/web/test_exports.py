"""Exports of the records in scope (CSV and GeoJSON): personal fields dropped for city viewers, integrity never.

Records here live in community 420502004001, which no other test module writes to.
"""
import csv
import io
import json

import pytest

from factories import make_tablet, pushed_record, signed_in
from sync_support import mediation_fields

COMMUNITY = "420502004001"
GRID = "420502004001001"
ELSEWHERE = "420502003011001"


@pytest.fixture(scope="module")
def made(grid_app):
    _, _, token = make_tablet(grid_app, GRID)
    located = pushed_record(grid_app, token, GRID, fields=mediation_fields(
        "物业停车纠纷", location={"lon": 111.3, "lat": 30.71}, agreement_text="双方协商一致"))
    plain = pushed_record(grid_app, token, GRID, "labor_service", {
        "service_type": "job_referral", "person": [{"name": "赵六", "phone": "13700000000"}], "outcome": "completed"})
    concern = pushed_record(grid_app, token, GRID, "integrity")
    _, _, other = make_tablet(grid_app, ELSEWHERE)
    outside = pushed_record(grid_app, other, ELSEWHERE)
    return {"located": located, "plain": plain, "concern": concern, "outside": outside}


def read_csv(response):
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_csv_for_a_supervisor_has_every_field_of_records_in_scope(grid_app, made):
    client, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    response = client.get("/review/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = {row["id"]: row for row in read_csv(response)}
    assert made["located"] in rows and made["plain"] in rows
    assert made["concern"] not in rows and made["outside"] not in rows
    located = rows[made["located"]]
    assert located["summary"] == "物业停车纠纷" and located["agreement_text"] == "双方协商一致"
    assert "张三" in located["parties"] and located["lon"] == "111.3" and located["status"] == "reported"
    assert "赵六" in rows[made["plain"]]["person"]


def test_csv_follows_the_queue_filters(grid_app, made):
    client, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    rows = read_csv(client.get("/review/export.csv?category=labor_service"))
    assert {row["category"] for row in rows} == {"labor_service"}


def test_city_viewers_get_no_personal_fields(grid_app, made):
    client, _ = signed_in(grid_app, "city_viewer", ["420500"])
    response = client.get(f"/review/export.csv?grid={GRID}")
    text = response.get_data(as_text=True)
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(text[1:]))}
    assert made["located"] in rows
    header = text.splitlines()[0]
    for personal in ("parties", "person", "agreement_text", "reporter"):
        assert personal not in header.split(","), personal
    for secret in ("张三", "13800000000", "赵六", "13700000000", "双方协商一致", "为亲属违规办理低保"):
        assert secret not in text, secret
    geo = client.get(f"/review/export.geojson?grid={GRID}").get_data(as_text=True)
    assert "张三" not in geo and "parties" not in geo


def test_geojson_is_a_feature_collection_of_points(grid_app, made):
    client, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    response = client.get("/review/export.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = json.loads(response.get_data(as_text=True))
    assert body["type"] == "FeatureCollection"
    features = {feature["id"]: feature for feature in body["features"]}
    assert made["concern"] not in features and made["outside"] not in features
    located = features[made["located"]]
    assert located["geometry"] == {"type": "Point", "coordinates": [111.3, 30.71]}
    assert located["properties"]["fields"]["parties"][0]["name"] == "张三"
    assert features[made["plain"]]["geometry"] is None


def test_inspectors_export_no_integrity_concerns_either(grid_app, made):
    client, _ = signed_in(grid_app, "inspector", ["420500"])
    text = client.get(f"/review/export.csv?grid={GRID}").get_data(as_text=True)
    assert made["located"] in text and made["concern"] not in text and "为亲属违规办理低保" not in text
