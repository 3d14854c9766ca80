"""The server-rendered pages, fed odd query arguments and form fields by hypothesis, never answer 500.

Signed in as a supervisor, an inspector and an administrator (each sees other pages), with real CSRF tokens, so the
arguments reach the views rather than stopping at the sign-in or CSRF checks.
"""
from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import FIRST_COMMUNITY, FIRST_GRID, csrf_from, make_tablet, make_user, web_login
from server.extensions import db
from sync_support import create, push

TRICKY = ["", "0", "²", "٣", "-1", str(2**31), str(2**70), "open", "reported", "mediation", "due_soon", "overdue",
          "oldest", FIRST_GRID, FIRST_COMMUNITY, "0001-01-01", "9999-12-31", "x" * 3000,
          "YzE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "up", "accept", "return", "1", "\u00a0", "%"]
TEXT = st.sampled_from(TRICKY) | st.text(max_size=12)
QUERY_NAMES = ["grid", "category", "status", "admin", "due", "sort", "cursor", "limit", "lang", "next", "metric",
               "from", "to", "level", "colour"]
FORM_NAMES = ["action", "comment", "version", "target_kind", "department", "record_id", "username",
              "hours-mediation-accept", "working-mediation-accept", "lang"]
PAGES = ["/review", "/inspect", "/review/{id}", "/inspect/{id}", "/review/export.csv", "/review/export.geojson",
         "/devices", "/deadlines", "/map", "/map/stats/grids.json", "/map/stats/{text}.json", "/login", "/",
         "/review/{id}/photo/{text}"]
FORMS = ["/review/{id}/action", "/inspect/{id}/action", "/review/bulk-accept", "/devices/enrollment", "/deadlines",
         "/devices/{text}/revoke"]


@pytest.fixture(scope="module")
def visitors(grid_app):
    _, _, device_token = make_tablet(grid_app, FIRST_GRID)
    made = create(grid_code=FIRST_GRID)
    assert push(grid_app.test_client(), device_token, [made]).status_code == 200
    clients = []
    for role, scope in (("supervisor", FIRST_COMMUNITY), ("inspector", "420500"), ("admin", "420500")):
        client = grid_app.test_client()
        assert web_login(client, make_user(grid_app, role, scopes=[scope])).status_code == 302
        clients.append(client)
    return clients, made["record_id"]


def _fill(template: str, record_id: str, text: str) -> str:
    return template.replace("{id}", record_id if text == "" else quote(text, safe="") or "x") \
        .replace("{text}", quote(text, safe="") or "x")


@pytest.mark.parametrize("page", PAGES)
def test_pages_never_fail_with_a_500(visitors, page):
    clients, record_id = visitors
    # Every argument name with every tricky value, one at a time; then hypothesis mixes them.
    for n, (name, value) in enumerate((name, value) for name in QUERY_NAMES for value in TRICKY):
        response = clients[n % 3].get(_fill(page, record_id, ""), query_string={name: value})
        response.get_data()  # exports stream: a failure may come only while the body is written
        assert response.status_code < 500, (page, name, value)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(who=st.integers(0, 2), text=TEXT, query=st.dictionaries(st.sampled_from(QUERY_NAMES), TEXT, max_size=4))
    def check(who, text, query):
        response = clients[who].get(_fill(page, record_id, text), query_string=query)
        response.get_data()
        assert response.status_code < 500, (page, text, query)

    check()


@pytest.fixture
def time_limits_kept(grid_app):
    """The /deadlines form really changes the time limits, which the app shared by later tests relies on: put back
    exactly the rows that were there (a fuzzed limit had made the review browser test's overdue case not overdue)."""
    from server.review.models import TimeLimit

    columns = [c.name for c in TimeLimit.__table__.columns]
    with grid_app.app_context():
        before = [dict(row._mapping) for row in db.session.execute(TimeLimit.__table__.select())]
    yield
    with grid_app.app_context():
        db.session.execute(TimeLimit.__table__.delete())
        if before:
            db.session.execute(TimeLimit.__table__.insert(), [{c: row[c] for c in columns} for row in before])
        db.session.commit()


@pytest.mark.parametrize("form", FORMS)
def test_forms_never_fail_with_a_500(visitors, form, time_limits_kept):
    clients, record_id = visitors
    tokens = [csrf_from(client.get("/devices" if who != 1 else "/inspect").data)
              for who, client in enumerate(clients)]
    for n, (name, value) in enumerate((name, value) for name in FORM_NAMES for value in TRICKY):
        response = clients[n % 3].post(_fill(form, record_id, ""), data={name: value, "csrf_token": tokens[n % 3]})
        assert response.status_code < 500, (form, name, value)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(who=st.integers(0, 2), text=TEXT, fields=st.dictionaries(st.sampled_from(FORM_NAMES), TEXT, max_size=5))
    def check(who, text, fields):
        response = clients[who].post(_fill(form, record_id, text), data={**fields, "csrf_token": tokens[who]})
        assert response.status_code < 500, (form, text, fields)

    check()
