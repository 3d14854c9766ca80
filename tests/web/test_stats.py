"""Grid statistics (GET /api/v1/stats/<level>, and the map page's session twin /map/stats/<level>.json):
figures per metric, level and window from known records, who may see what, bad arguments, no personal data.

Records are made through the real services (create_record, and the review workflow for statuses) in a database of
this module's own (the shared grid_app collects other modules' records), on both backends.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import event, update

from factories import PASSWORD, assert_error, auth, make_user, user_token, web_login
from grids import DATASET_PATH
from server.accounts.models import User
from server.accounts.scope import Scope
from server.extensions import db
from server.geo.importer import import_file
from server.maps import services
from server.records.models import Record
from server.records.services import Actor, create_record
from sync_support import integrity_fields, mediation_fields

CHINA = timezone(timedelta(hours=8))
G1, G2 = "420502001001001", "420502001001002"  # both in community 420502001001, street 420502001
G3 = "420503001001001"  # another district
COMMUNITY, STREET = G1[:12], G1[:9]
# Personal data and confidential content in the records made here: none may reach a city viewer.
SECRETS = ("张三", "李四", "13800000000", "王五", "13911112222", "某社区主任", "为亲属违规办理低保", "赵六")


def labor_fields() -> dict:
    return {"service_type": "job_referral", "person": [{"name": "王五", "phone": "13911112222"}],
            "outcome": "in_progress"}


def visit_fields(day) -> dict:
    start = datetime.combine(day, time(9), CHINA).astimezone(timezone.utc)
    return {"started_at": start.isoformat(), "ended_at": (start + timedelta(hours=1)).isoformat(),
            "households": [{"household": "1栋101", "outcome": "visited"}]}


def integrity_with_reporter() -> dict:
    return {**integrity_fields(), "reporter": [{"name": "赵六", "phone": "13800000000"}]}


TODAY = datetime.now(CHINA).date()
# (name, grid, category, days ago, fields). All at 10:00 China time on their day.
RECORDS = (
    ("m1", G1, "mediation", 1, mediation_fields()),
    ("m2", G1, "mediation", 2, mediation_fields()),
    ("m_old", G1, "mediation", 40, mediation_fields()),  # outside the 30-day window
    ("l1", G1, "labor_service", 5, labor_fields()),
    ("l2", G1, "labor_service", 5, labor_fields()),
    ("i1", G1, "integrity", 3, integrity_with_reporter()),
    ("v1", G1, "visit_round", 1, None),
    ("v2", G1, "visit_round", 1, None),  # same day as v1: coverage counts days, not rounds
    ("v3", G1, "visit_round", 2, None),
    ("m3", G2, "mediation", 10, mediation_fields()),
    ("i2", G2, "integrity", 4, integrity_fields()),
    ("v4", G2, "visit_round", 1, None),
    ("l3", G3, "labor_service", 7, labor_fields()),
    ("l4", G3, "labor_service", 7, labor_fields()),
    ("i3", G3, "integrity", 6, integrity_fields()),
)


@pytest.fixture(scope="module")
def stats_app(make_app):
    app = make_app()
    with app.app_context():
        import_file(DATASET_PATH)
    author = make_user(app, "grid_admin", scopes=[G1, G2, G3])
    supervisor = make_user(app, "supervisor", scopes=[COMMUNITY])
    inspector = make_user(app, "inspector", scopes=["420500"])
    ids = {}
    with app.app_context():
        author_id = db.session.query(User.id).filter_by(username=author).scalar()
        for name, grid, category, days_ago, fields in RECORDS:
            day = TODAY - timedelta(days=days_ago)
            occurred = datetime.combine(day, time(10), CHINA).astimezone(timezone.utc)
            outcome = create_record(
                record_id=str(uuid.uuid4()), category_key=category, grid_code=grid,
                values=fields if fields is not None else visit_fields(day), occurred_at=occurred,
                occurred_at_server_est=None, actor=Actor(user_id=author_id), scope=Scope((G1, G2, G3)))
            ids[name] = outcome.record.id
        db.session.commit()
        # Statuses through the real workflow: m1 accepted then handled... m2 closed, l2 not accepted.
        from server.review.workflow import transition

        sup = db.session.query(User).filter_by(username=supervisor).one()
        insp = db.session.query(User).filter_by(username=inspector).one()
        for action in ("accept", "handle", "verify", "close"):
            transition(ids["m2"], action, None, sup)
        transition(ids["l2"], "not_accept", "不属于本社区受理范围", sup)
        transition(ids["i3"], "accept", None, insp)
        db.session.commit()
        # Overdue: l1 and the integrity concern i1 arrived ten days ago and were never accepted (accept limit 1 day).
        ten_days_ago = datetime.now(timezone.utc) - timedelta(days=10)
        db.session.execute(update(Record).where(Record.id.in_([ids["l1"], ids["i1"]]))
                           .values(received_at=ten_days_ago, updated_at=ten_days_ago))
        db.session.commit()
    app.config["STATS_IDS"] = ids
    return app


@pytest.fixture(scope="module")
def tokens(stats_app):
    app = stats_app
    users = {
        "city_viewer": make_user(app, "city_viewer", scopes=["420500"]),
        "supervisor": make_user(app, "supervisor", scopes=[COMMUNITY]),
        "inspector": make_user(app, "inspector", scopes=["420500"]),
        "admin": make_user(app, "admin", scopes=["420500"]),
        "grid_admin": make_user(app, "grid_admin", scopes=[G1]),
    }
    return {role: user_token(app, username) for role, username in users.items()} | {"_users": users}


@pytest.fixture
def api(stats_app, tokens):
    client = stats_app.test_client()

    def get(role: str | None, level: str = "grids", **args):
        headers = auth(tokens[role]) if role else {}
        return client.get(f"/api/v1/stats/{level}", query_string=args, headers=headers)

    return get


WINDOW = {"from": (TODAY - timedelta(days=29)).isoformat(), "to": TODAY.isoformat()}


def figures(response, level="grids") -> dict:
    assert response.status_code == 200, response.get_json()
    return response.get_json()[level]


# --- figures --------------------------------------------------------------------------------------------------------

def test_records_per_grid_leave_integrity_out_for_a_city_viewer(api):
    body = api("city_viewer", metric="records", **WINDOW).get_json()
    assert body["categories"] == ["labor_service", "mediation", "visit_round"]
    assert (body["from"], body["to"], body["days"]) == (WINDOW["from"], WINDOW["to"], 30)
    grids = body["grids"]
    assert len(grids) == 1110  # every grid, 0 where nothing happened
    assert (grids[G1], grids[G2], grids[G3]) == (7, 2, 2)
    assert sum(grids.values()) == 11 and body["max"] == 7


def test_inspectors_count_integrity_concerns_per_grid(api):
    grids = figures(api("inspector", metric="records", **WINDOW))
    assert (grids[G1], grids[G2], grids[G3]) == (8, 3, 3)
    integrity = figures(api("inspector", metric="records", category="integrity", **WINDOW))
    assert (integrity[G1], integrity[G2], integrity[G3]) == (1, 1, 1) and sum(integrity.values()) == 3


def test_a_category_and_a_window_narrow_the_count(api):
    assert figures(api("city_viewer", metric="records", category="mediation", **WINDOW))[G1] == 2
    wide = {"from": (TODAY - timedelta(days=59)).isoformat(), "to": TODAY.isoformat()}
    assert figures(api("city_viewer", metric="records", category="mediation", **wide))[G1] == 3
    one_day = {"from": (TODAY - timedelta(days=1)).isoformat(), "to": (TODAY - timedelta(days=1)).isoformat()}
    grids = figures(api("city_viewer", metric="records", **one_day))
    assert (grids[G1], grids[G2]) == (3, 1)  # m1, v1, v2 | v4


def test_the_default_window_is_the_last_30_days(api):
    before = datetime.now(CHINA).date()
    body = api("city_viewer").get_json()
    after = datetime.now(CHINA).date()  # the run may cross midnight in China (16:00 UTC)
    assert body["metric"] == "records" and body["days"] == 30 and body["to"] in {before.isoformat(), after.isoformat()}
    assert body["grids"][G1] == 7


def test_open_cases_are_those_still_in_the_workflow(api):
    # G1: m1, l1 (reported); m2 closed, l2 not accepted; m_old outside the window; visit rounds are no cases.
    body = api("city_viewer", metric="open_cases", **WINDOW).get_json()
    assert body["categories"] == ["labor_service", "mediation"]
    grids = body["grids"]
    assert (grids[G1], grids[G2], grids[G3]) == (2, 1, 2)
    assert figures(api("inspector", metric="open_cases", **WINDOW))[G3] == 3  # and i3: accepted, still open
    assert figures(api("city_viewer", metric="open_cases", category="mediation", **WINDOW))[G1] == 1


def test_overdue_cases_follow_the_review_time_limits(api):
    grids = figures(api("city_viewer", metric="overdue", **WINDOW))
    assert (grids[G1], grids[G2], grids[G3]) == (1, 0, 0) and sum(grids.values()) == 1  # l1
    assert figures(api("inspector", metric="overdue", **WINDOW))[G1] == 2  # and the integrity concern i1
    streets = figures(api("city_viewer", "streets", metric="overdue", category="integrity", **WINDOW), "streets")
    assert streets[STREET] == 1


def test_visit_coverage_is_the_share_of_days_with_a_visit_round(api, stats_app):
    body = api("city_viewer", metric="visit_coverage", **WINDOW).get_json()
    assert body["unit"] == "share_of_days" and body["categories"] == ["visit_round"]
    assert body["grids"][G1] == round(2 / 30, 3) and body["grids"][G2] == round(1 / 30, 3)
    assert body["grids"][G3] == 0
    with stats_app.app_context():
        community_grids = [u.grid for u in services.registry() if u.community == COMMUNITY]
    mean = round((2 / 30 + 1 / 30) / len(community_grids), 3)
    assert figures(api("city_viewer", "communities", metric="visit_coverage", **WINDOW), "communities")[COMMUNITY] \
        == pytest.approx(mean, abs=0.001)


def test_higher_levels_add_up_their_grids(api):
    communities = figures(api("city_viewer", "communities", **WINDOW), "communities")
    assert len(communities) == 121 and communities[COMMUNITY] == 9
    streets = figures(api("city_viewer", "streets", **WINDOW), "streets")
    districts = figures(api("city_viewer", "districts", **WINDOW), "districts")
    # A city viewer's street and district totals include integrity concerns (two in 420502001, one in 420503).
    assert streets[STREET] == 11 and districts["420502"] == 11 and districts["420503"] == 3


def test_the_statistics_are_one_aggregate_query(api, stats_app):
    statements = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement)

    with stats_app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        for metric in services.METRICS:
            statements.clear()
            assert api("city_viewer", metric=metric, **WINDOW).status_code == 200
            on_records = [s for s in statements if " records" in s and "GROUP BY" in s]
            assert len(on_records) == 1, (metric, statements)
            assert "GROUP BY records.grid_code" in on_records[0]
    finally:
        event.remove(engine, "before_cursor_execute", remember)


# --- who may see what -----------------------------------------------------------------------------------------------

def test_integrity_counts_per_grid_are_refused_to_city_viewers(api):
    for level in ("grids", "communities"):
        assert_error(api("city_viewer", level, metric="records", category="integrity"), 403, "category")
    streets = figures(api("city_viewer", "streets", metric="records", category="integrity", **WINDOW), "streets")
    assert streets[STREET] == 2 and streets["420503001"] == 1
    districts = figures(api("city_viewer", "districts", metric="records", category="integrity", **WINDOW),
                        "districts")
    assert districts == {**{code: 0 for code in districts}, "420502": 2, "420503": 1}


def test_city_viewers_street_totals_include_integrity_but_grid_totals_never_do(api):
    grids = figures(api("city_viewer", metric="records", **WINDOW))
    streets = figures(api("city_viewer", "streets", metric="records", **WINDOW), "streets")
    assert streets[STREET] == grids[G1] + grids[G2] + 2  # the two integrity concerns, counted per street only


def test_supervisors_see_their_community_and_no_integrity_concerns(api):
    body = api("supervisor", metric="records", **WINDOW).get_json()
    assert set(body["grids"]) == {code for code in body["grids"] if code.startswith(COMMUNITY)}
    assert body["grids"][G1] == 7 and G3 not in body["grids"]
    for level in ("grids", "streets", "districts"):
        assert_error(api("supervisor", level, metric="records", category="integrity"), 403, "category")
    assert figures(api("supervisor", "streets", **WINDOW), "streets") == {STREET: 9}


def test_administrators_get_figures_without_integrity_concerns(api):
    assert figures(api("admin", metric="records", **WINDOW))[G1] == 7
    assert_error(api("admin", "streets", metric="records", category="integrity"), 403, "category")


def test_grid_administrators_and_anonymous_callers_are_refused(api):
    assert_error(api(None), 401, "Authorization")
    assert_error(api("grid_admin"), 403)


@pytest.mark.parametrize("args,field", [
    ({"metric": "households"}, "metric"),
    ({"from": "yesterday"}, "from"),
    ({"to": "2026-02-30"}, "to"),
    ({"from": "2026-05-02", "to": "2026-05-01"}, "from"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
    ({"category": "weather"}, "category"),
    ({"metric": "visit_coverage", "category": "mediation"}, "category"),
    ({"colour": "red"}, "colour"),
])
def test_bad_arguments_are_400_naming_the_argument(api, args, field):
    assert_error(api("city_viewer", **args), 400, field)


@pytest.mark.parametrize("args,field", [({"from": "0001-01-01", "to": "0001-01-20"}, "from"),
                                        ({"from": "9999-12-20", "to": "9999-12-31"}, "to")])
def test_windows_at_the_ends_of_the_calendar_are_400_not_500(api, args, field):
    response = api("city_viewer", **args)
    assert response.status_code == 400 and field in response.get_json()["errors"]


def test_an_unknown_level_is_404_naming_it(api):
    assert_error(api("city_viewer", "households"), 404, "level")


# --- the map page's session twin ------------------------------------------------------------------------------------

@pytest.fixture
def signed_in(stats_app, tokens):
    def sign_in(role: str):
        client = stats_app.test_client()
        assert web_login(client, tokens["_users"][role], PASSWORD).status_code == 302
        return client

    return sign_in


def test_the_session_route_gives_the_same_figures(api, signed_in):
    client = signed_in("city_viewer")
    answer = client.get("/map/stats/grids.json", query_string={"metric": "open_cases", **WINDOW})
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.get_json() == api("city_viewer", metric="open_cases", **WINDOW).get_json()


def test_the_session_route_checks_roles_and_answers_json(stats_app, signed_in):
    anonymous = stats_app.test_client().get("/map/stats/grids.json")
    assert anonymous.status_code == 401 and anonymous.get_json()["status"] == 401
    assert "WWW-Authenticate" not in anonymous.headers
    grid_admin = signed_in("grid_admin").get("/map/stats/grids.json")
    assert grid_admin.status_code == 403 and grid_admin.get_json()["code"] == "forbidden"
    viewer = signed_in("city_viewer")
    refused = viewer.get("/map/stats/grids.json", query_string={"category": "integrity"})
    assert refused.status_code == 403 and "category" in refused.get_json()["errors"]
    bad = viewer.get("/map/stats/grids.json", query_string={"from": "soon"})
    assert bad.status_code == 400 and "from" in bad.get_json()["errors"]
    assert viewer.get("/map/stats/wards.json").status_code == 404


@pytest.mark.parametrize("role,status", [
    ("city_viewer", 200), ("supervisor", 200), ("inspector", 200), ("admin", 200), ("grid_admin", 403)])
def test_the_map_page_is_for_the_roles_that_see_statistics(signed_in, role, status):
    assert signed_in(role).get("/map").status_code == status


def test_the_map_page_needs_sign_in(stats_app):
    response = stats_app.test_client().get("/map")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_nothing_a_city_viewer_gets_holds_personal_data(api, signed_in):
    client = signed_in("city_viewer")
    bodies = [client.get("/map").get_data(as_text=True)]
    for level in services.LEVELS:
        for metric in services.METRICS:
            for get in (lambda level=level, **a: api("city_viewer", level, **a),
                        lambda level=level, **a: client.get(f"/map/stats/{level}.json", query_string=a)):
                response = get(metric=metric, **WINDOW)
                assert response.status_code == 200
                bodies.append(json.dumps(response.get_json(), ensure_ascii=False))
    bodies.append(json.dumps(api("city_viewer", "streets", category="integrity").get_json(), ensure_ascii=False))
    for body in bodies:
        for secret in SECRETS:
            assert secret not in body


def test_the_page_offers_integrity_per_street_to_city_viewers_only(signed_in):
    def config(role):
        page = signed_in(role).get("/map").get_data(as_text=True)
        start = page.index('id="map-config">') + len('id="map-config">')
        return json.loads(page[start:page.index("</script>", start)])

    viewer, inspector, supervisor = config("city_viewer"), config("inspector"), config("supervisor")
    assert viewer["confidential_level"] == "streets" and inspector["confidential_level"] == "grids"
    assert "integrity" in [c["key"] for c in viewer["categories"]]
    assert "integrity" not in [c["key"] for c in supervisor["categories"]]
    assert supervisor["confidential_level"] is None
    assert viewer["tiles"]["url"] == ""  # no basemap unless configured
    assert [m["key"] for m in viewer["metrics"]] == list(services.METRICS)


def test_basemap_tiles_come_from_configuration(stats_app, signed_in):
    stats_app.config.update(MAP_TILE_URL="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                            MAP_TILE_ATTRIBUTION="© OpenStreetMap contributors")
    try:
        page = signed_in("city_viewer").get("/map").get_data(as_text=True)
    finally:
        stats_app.config.pop("MAP_TILE_URL")
        stats_app.config.pop("MAP_TILE_ATTRIBUTION")
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in page and "OpenStreetMap contributors" in page


# --- the service on its own -----------------------------------------------------------------------------------------

def test_overdue_grows_as_time_passes(stats_app):
    with stats_app.app_context():
        viewer = db.session.query(User).filter_by(role="city_viewer").first()
        from server.accounts.auth import Principal

        principal = Principal(user=viewer)
        first, last = TODAY - timedelta(days=29), TODAY
        now = datetime.now(timezone.utc)
        today_count = sum(services.stats(principal, "overdue", first=first, last=last, now=now)["grids"].values())
        later = services.stats(principal, "overdue", first=first, last=last, now=now + timedelta(days=20))
        # Twenty days on, every record still reported is past its one-day accept limit, visit rounds too:
        # m1, l1, v1-v3 | m3, v4 | l3, l4 (m2 is closed, l2 not accepted; integrity is not counted per grid).
        assert today_count == 1 and sum(later["grids"].values()) == 9


def test_the_map_page_speaks_english_on_request(signed_in):
    page = signed_in("city_viewer").get("/map?lang=en").get_data(as_text=True)
    assert "Grid map" in page and "Visit-round coverage" in page and "All categories" in page
    assert 'lang="en"' in page
