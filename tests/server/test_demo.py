"""`flask demo load`: the demo accounts, idempotent, and refused before the grids are loaded."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from grids import DATASET_PATH
from server.accounts.models import User
from server.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_RECORDS, load_demo_accounts
from server.extensions import db
from server.geo.importer import import_file
from server.records.models import Record

EXPECTED = {
    "demo-admin": ("admin", ["420500"]),
    "demo-supervisor": ("supervisor", ["420502001001"]),
    "demo-inspector": ("inspector", ["420500"]),
    "demo-city": ("city_viewer", ["420500"]),
    "demo-grid": ("grid_admin", ["420502001001001"]),
}


@pytest.fixture(scope="module")
def demo_app(make_app, tmp_path_factory):
    """A fresh database per backend holding only the demo community's grids (fast to import)."""
    shipped = json.loads(DATASET_PATH.read_text(encoding="utf-8"))
    shipped["features"] = [f for f in shipped["features"]
                           if f["properties"]["community_code"] == "420502001001"]
    path = tmp_path_factory.mktemp("demo") / "community.geojson"
    path.write_text(json.dumps(shipped, ensure_ascii=False), encoding="utf-8")
    app = make_app()
    with app.app_context():
        import_file(path)
    return app


def _accounts(app) -> dict[str, tuple]:
    with app.app_context():
        return {user.username: (user.id, user.role, user.scope_codes, user.display_name, user.password_hash,
                                user.active, user.created_at)
                for user in db.session.scalars(select(User).where(User.username.like("demo-%")))}


def test_demo_load_creates_the_accounts_then_changes_nothing(demo_app):
    runner = demo_app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    for username, (role, scopes) in EXPECTED.items():
        assert f"created {username} ({role}, {scopes[0]})" in first.output
    assert DEMO_PASSWORD in first.output
    before = _accounts(demo_app)
    assert {name: (row[1], row[2]) for name, row in before.items()} == EXPECTED

    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0, second.output
    assert "created" not in second.output
    assert all(f"kept    {username} " in second.output for username in EXPECTED)
    assert _accounts(demo_app) == before
    with demo_app.app_context():
        assert load_demo_accounts() == []
    assert f"demo records: {len(DEMO_RECORDS)} new" in first.output
    assert f"demo records: 0 new, {len(DEMO_RECORDS)} already there" in second.output


def test_demo_records_cover_every_category_and_are_not_duplicated(demo_app):
    demo_app.test_cli_runner().invoke(args=["demo", "load"])
    demo_app.test_cli_runner().invoke(args=["demo", "load"])
    with demo_app.app_context():
        categories = db.session.scalars(select(Record.category).where(Record.grid_code == "420502001001001")).all()
    assert sorted(set(categories)) == ["integrity", "labor_service", "mediation", "visit_round"]
    assert len(categories) == len(DEMO_RECORDS)


def test_demo_accounts_sign_in_with_the_demo_password(demo_app):
    demo_app.test_cli_runner().invoke(args=["demo", "load"])
    client = demo_app.test_client()
    response = client.post("/api/v1/auth/token", json={"username": "demo-grid", "password": "wangge-demo"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["user"]["scopes"] == ["420502001001001"]
    assert [account.username for account in DEMO_ACCOUNTS] == list(EXPECTED)


def test_demo_load_refuses_before_the_grids_are_loaded(empty_app, runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 1
    assert "grids are not loaded" in result.output and "grids import" in result.output
    with empty_app.app_context():
        assert db.session.scalar(select(User.id)) is None
