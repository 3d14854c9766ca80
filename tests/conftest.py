"""Fixtures shared by every test: real databases (SQLite and a throwaway PostgreSQL), apps, clients, runners.

Every test that uses a database runs once per backend. `--db sqlite` (repeatable) narrows that for a quick local
run; CI runs both.
"""
from __future__ import annotations

import itertools

import pytest
from flask_migrate import upgrade

from grids import DATASET_PATH
from pg_cluster import PostgresCluster
from server import create_app
from server.extensions import db
from server.geo.importer import import_file

BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser):
    parser.addoption("--db", action="append", choices=BACKENDS,
                     help="database backend(s) to run against (default: all)")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("db") or list(BACKENDS)
        metafunc.parametrize("backend", chosen, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def new_database_url(backend, request, tmp_path_factory):
    """A factory of empty databases on the current backend."""
    counter = itertools.count()
    if backend == "sqlite":
        return lambda: f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'wangge.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    return lambda: cluster.create_database(f"wangge_{next(counter)}")


@pytest.fixture(scope="session")
def make_app(new_database_url, tmp_path_factory):
    """Build an app on a fresh database whose schema comes from the migrations, as in production."""
    apps = []

    def make(**overrides):
        config = {"TESTING": True, "SECRET_KEY": "test-secret",
                  "SQLALCHEMY_DATABASE_URI": new_database_url(),
                  "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")), **overrides}
        app = create_app(config)
        with app.app_context():
            upgrade()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def grid_app(make_app):
    """One app per backend with the shipped 1,110 grids loaded; for tests that only read."""
    app = make_app()
    with app.app_context():
        import_file(DATASET_PATH)
    return app


@pytest.fixture
def client(grid_app):
    return grid_app.test_client()


@pytest.fixture
def empty_app(make_app):
    """A fresh, empty, migrated database per test, for tests that write."""
    return make_app()


@pytest.fixture
def runner(empty_app):
    return empty_app.test_cli_runner()
