"""Settings from the environment, with defaults for the embedded SQLite set-up.

Everything here can be overridden by the mapping passed to create_app(), which is how tests configure the app.
"""
import os
import secrets
from pathlib import Path

from . import jsontext

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "wangge.db")
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants a dialect+driver name.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one generated into the instance folder once and reused."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def from_environment(instance_path: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        "SECRET_KEY": secret_key(instance_path),
        "MIGRATIONS_DIR": str(PROJECT_ROOT / "migrations"),
        "MAX_CONTENT_LENGTH": int(os.environ.get("WANGGE_MAX_BODY_BYTES", 32 * 1024 * 1024)),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "json_serializer": jsontext.dumps,
                                      "json_deserializer": jsontext.loads},
    }
