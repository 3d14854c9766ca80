"""Flask extensions, created unbound and bound to an app in create_app()."""
import sqlite3

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import walcheckpoint

# Named constraints keep Alembic migrations portable between SQLite (batch mode) and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
# render_as_batch lets Alembic alter SQLite tables (which have no ALTER COLUMN) by copy-and-swap.
migrate = Migrate(render_as_batch=True, compare_type=True)


# WAL pages after which a commit checkpoints by itself (160 MB): only if the background checkpoints fall behind.
BACKSTOP_PAGES = 40000


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection, _record):
    """WAL lets readers proceed during a write; foreign keys are off by default in SQLite.

    A push of 500 records touches pages all over the UUID indexes. A 64 MB page cache (allocated only as used)
    keeps those pages in memory across pushes, and a checkpoint every half second, rather than every 4 MB of WAL,
    writes a page that several commits changed once; together they took a fifth off a push's database time
    (bench/sync_ingest.py). The checkpoints run in a background thread (walcheckpoint.py); the connection's own,
    inside a commit, is only the backstop."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@event.listens_for(Session, "after_commit")
def _checkpoint_soon(session) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        walcheckpoint.nudge(bind.url.database)


def init_app(app):
    db.init_app(app)
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIR"])
