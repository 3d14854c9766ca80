"""Electronic supervision: time limits per category and stage, due times, overdue/due-soon flags and counts.

Records here live in community 420502003011, which no other test module writes to.
"""
from datetime import datetime, timedelta, timezone

import pytest

from factories import csrf_from, make_tablet, pushed_record, set_record_times, signed_in
from server.accounts.scope import Scope
from server.extensions import db
from server.review import deadlines
from server.review.deadlines import add_time, subtract_time

COMMUNITY = "420502003011"
STREET = "420502003"
GRID = "420502003011001"
GRIDS = {"test_overdue_and_due_soon_are_flagged_in_the_queue_and_counted": GRID,
         "test_accepting_stops_the_accept_clock_and_starts_the_handle_clock": "420502003011002",
         "test_integrity_concerns_have_their_own_day_and_are_counted_only_for_inspectors": "420502003011003"}
BJ = timezone(timedelta(hours=8))


# --- working time (no database) -------------------------------------------------------------------------------------

def test_wall_clock_limits_add_plain_hours():
    start = datetime(2026, 12, 4, 10, 0, tzinfo=BJ)  # a Friday
    assert add_time(start, 24, False) == datetime(2026, 12, 5, 10, 0, tzinfo=BJ)


def test_working_day_limits_skip_the_weekend():
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=BJ)
    assert add_time(friday, 24, True) == datetime(2026, 12, 7, 15, 0, tzinfo=BJ)  # Monday
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=BJ)
    assert add_time(saturday, 24, True) == datetime(2026, 12, 8, 0, 0, tzinfo=BJ)  # all of Monday
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=BJ)
    assert add_time(monday, 5 * 24, True) == datetime(2026, 12, 14, 9, 0, tzinfo=BJ)  # five working days


@pytest.mark.parametrize("hours", [1, 4, 24, 30, 120, 360])
@pytest.mark.parametrize("working_days", [False, True])
def test_subtract_is_the_inverse_of_add(hours, working_days):
    start = datetime(2026, 12, 1, 0, 0, tzinfo=BJ)
    for step in range(0, 24 * 14, 5):
        end = start + timedelta(hours=step, minutes=7)
        earliest = subtract_time(end, hours, working_days)
        assert add_time(earliest, hours, working_days) <= end + timedelta(seconds=1)
        later = earliest + timedelta(minutes=1)
        if working_days and later.astimezone(BJ).weekday() >= 5:
            continue  # inside a weekend every start has the same due time
        assert add_time(later, hours, working_days) > end - timedelta(seconds=1)


# --- flags and counts on real records -------------------------------------------------------------------------------

@pytest.fixture
def records(grid_app, request):
    """Three new mediation records in a grid of the test's own (GRID, then ...002, ...003 by test): on time,
    to be moved nearly due, and overdue."""
    grid = GRIDS[request.node.originalname]
    _, _, token = make_tablet(grid_app, grid)
    ids = [pushed_record(grid_app, token, grid) for _ in range(3)]
    return token, ids


def _restore_default_limits(app):
    defaults = {(c, s): (h, w) for c, s, h, w in deadlines.DEFAULT_LIMITS}
    with app.app_context():
        deadlines.set_limits([{"category": c, "stage": s, "hours": defaults.get((c, s), ("", False))[0],
                               "working_days": defaults.get((c, s), ("", False))[1]}
                              for c in ("mediation", "labor_service", "integrity", "visit_round")
                              for s in deadlines.STAGES], None)
        db.session.commit()


@pytest.fixture
def wall_clock_limits(grid_app):
    """The accept limit of mediation as 24 wall-clock hours, so the test does not depend on the weekday."""
    with grid_app.app_context():
        deadlines.set_limits([{"category": c, "stage": s, "hours": l.hours,
                               "working_days": l.working_days if (c, s) != ("mediation", "accept") else False}
                              for (c, s), l in deadlines.limits().items()], None)
        db.session.commit()
    yield
    _restore_default_limits(grid_app)


def test_overdue_and_due_soon_are_flagged_in_the_queue_and_counted(grid_app, records, wall_clock_limits):
    _, (fresh, soon, late) = records
    now = datetime.now(timezone.utc)
    set_record_times(grid_app, soon, received_at=now - timedelta(hours=21), updated_at=now - timedelta(hours=21))
    set_record_times(grid_app, late, received_at=now - timedelta(hours=30), updated_at=now - timedelta(hours=30))
    client, _ = signed_in(grid_app, "supervisor", [COMMUNITY])

    page = client.get(f"/review?grid={GRID}").get_data(as_text=True)
    rows = {record_id: page[page.index(f'data-id="{record_id}"') - 40:page.index(f'data-id="{record_id}"')]
            for record_id in (fresh, soon, late)}
    assert 'class="overdue"' in rows[late] and 'class="due_soon"' in rows[soon] and 'class="ok"' in rows[fresh]
    assert "超期 6小时" in page and "剩余 2小时" in page

    overdue_only = client.get(f"/review?grid={GRID}&due=overdue").get_data(as_text=True)
    assert late in overdue_only and soon not in overdue_only and fresh not in overdue_only
    soon_only = client.get(f"/review?grid={GRID}&due=due_soon").get_data(as_text=True)
    assert soon in soon_only and late not in soon_only

    with grid_app.app_context():
        scope = Scope((COMMUNITY,))
        assert deadlines.overdue_counts("grid", scope)[GRID] == {"overdue": 1, "due_soon": 1}
        community = deadlines.overdue_counts("community", scope)[COMMUNITY]
        assert community["overdue"] >= 1 and community["due_soon"] >= 1
        assert deadlines.overdue_counts("street", Scope((STREET,)))[STREET]["overdue"] >= 1
        assert deadlines.scope_counts(Scope((GRID,))) == {"overdue": 1, "due_soon": 1}


def test_accepting_stops_the_accept_clock_and_starts_the_handle_clock(grid_app, records, wall_clock_limits):
    _, (_, _, late) = records
    now = datetime.now(timezone.utc)
    set_record_times(grid_app, late, received_at=now - timedelta(hours=30), updated_at=now - timedelta(hours=30))
    client, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    page = client.get(f"/review/{late}")
    assert "超期" in page.get_data(as_text=True)
    grid = GRIDS["test_accepting_stops_the_accept_clock_and_starts_the_handle_clock"]
    with grid_app.app_context():
        assert deadlines.overdue_counts("grid", Scope((COMMUNITY,)))[grid]["overdue"] == 1
    client.post(f"/review/{late}/action", data={"csrf_token": csrf_from(page.data), "action": "accept"})
    page = client.get(f"/review/{late}").get_data(as_text=True)
    assert "处置" in page and "剩余 14天23小时" in page  # mediation: handled within 15 days of acceptance
    with grid_app.app_context():
        assert deadlines.overdue_counts("grid", Scope((COMMUNITY,))).get(grid, {}).get("overdue", 0) == 0


def test_integrity_concerns_have_their_own_day_and_are_counted_only_for_inspectors(grid_app, records):
    token, _ = records
    grid = GRIDS["test_integrity_concerns_have_their_own_day_and_are_counted_only_for_inspectors"]
    concern = pushed_record(grid_app, token, grid, "integrity")
    now = datetime.now(timezone.utc)
    set_record_times(grid_app, concern, received_at=now - timedelta(hours=25), updated_at=now - timedelta(hours=25))
    with grid_app.app_context():
        before = deadlines.overdue_counts("grid", Scope((COMMUNITY,))).get(grid, {}).get("overdue", 0)
        with_concerns = deadlines.overdue_counts("grid", Scope((COMMUNITY,)), include_confidential=True)
        assert with_concerns[grid]["overdue"] == before + 1
    inspector, _ = signed_in(grid_app, "inspector", ["420500"])
    page = inspector.get("/inspect").get_data(as_text=True)
    assert "超期 1小时" in page


def test_administrators_edit_the_time_limits(grid_app):
    admin, _ = signed_in(grid_app, "admin", ["420500"])
    page = admin.get("/deadlines")
    assert page.status_code == 200 and "办理时限" in page.get_data(as_text=True)
    with grid_app.app_context():
        current = deadlines.limits()
    form = {"csrf_token": csrf_from(page.data)}
    for (category, stage), limit in current.items():
        form[f"hours-{category}-{stage}"] = str(limit.hours)
        if limit.working_days:
            form[f"working-{category}-{stage}"] = "1"
    form["hours-visit_round-accept"] = "48"
    form.pop("working-visit_round-accept", None)
    form["hours-mediation-verify"] = "72"
    form["hours-labor_service-handle"] = ""  # no limit any more
    response = admin.post("/deadlines", data=form)
    assert response.status_code == 303
    with grid_app.app_context():
        changed = deadlines.limits()
        assert changed[("visit_round", "accept")].hours == 48 and not changed[("visit_round", "accept")].working_days
        assert changed[("mediation", "verify")].hours == 72
        assert ("labor_service", "handle") not in changed
    assert admin.post("/deadlines", data={"csrf_token": form["csrf_token"]}).status_code == 303  # nothing sent
    with grid_app.app_context():
        assert deadlines.limits() == changed  # changes nothing

    form["hours-mediation-accept"] = "-3"
    response = admin.post("/deadlines", data=form)
    assert response.status_code == 422 and "mediation.accept" in response.get_data(as_text=True)
    _restore_default_limits(grid_app)


def test_only_administrators_may_change_time_limits(grid_app):
    supervisor, _ = signed_in(grid_app, "supervisor", [COMMUNITY])
    page = supervisor.get("/deadlines")
    assert page.status_code == 200 and 'id="limits-save"' not in page.get_data(as_text=True)
    response = supervisor.post("/deadlines", data={"csrf_token": csrf_from(page.data),
                                                   "hours-mediation-accept": "1"})
    assert response.status_code == 403
    with grid_app.app_context():
        assert deadlines.limits()[("mediation", "accept")].hours == 24


def test_the_migration_seeds_the_limits_from_the_domain(grid_app):
    with grid_app.app_context():
        table = deadlines.limits()
    assert {(c, s): (l.hours, l.working_days) for (c, s), l in table.items()} == {
        (c, s): (h, w) for c, s, h, w in deadlines.DEFAULT_LIMITS}
