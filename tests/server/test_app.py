"""The application factory, configuration, migrations and the error shape."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from server import config, create_app
from server.extensions import db


def test_models_and_migrations_agree(empty_app):
    with empty_app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_downgrade_to_nothing_and_back(empty_app):
    with empty_app.app_context():
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert {"grids", "communities", "streets", "districts"} <= set(inspect(db.engine).get_table_names())


def test_sqlite_runs_in_wal_mode(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/w.db"})
    with app.app_context():
        assert db.session.execute(db.text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(db.text("PRAGMA foreign_keys")).scalar() == 1


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/wangge.db"


@pytest.mark.parametrize("given,expected", [
    ("postgres://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
    ("postgresql://u@h:5433/d", "postgresql+psycopg://u@h:5433/d"),
    ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ("sqlite:////var/lib/wangge.db", "sqlite:////var/lib/wangge.db"),
])
def test_database_url_from_environment(monkeypatch, tmp_path, given, expected):
    monkeypatch.setenv("DATABASE_URL", given)
    assert config.database_url(str(tmp_path)) == expected


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"] == "from-env"


def test_unexpected_errors_are_json_500_without_details(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals")

    @app.get("/boom-page")
    def boom_page():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    body = response.get_json()
    assert body["code"] == "internal_error" and "secret" not in body["message"]
    page = app.test_client().get("/boom-page", headers={"Accept": "text/html"})
    assert page.status_code == 500 and page.mimetype == "text/html" and b"secret" not in page.data


def test_health_reports_an_unreachable_database_as_503(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing-dir/nothing/x.db"})
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"
