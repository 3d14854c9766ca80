"""`flask demo load`: demo accounts and records for trying Wangge out. Never run in production.

Idempotent: whatever already exists is kept as it is, so running it again changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from .accounts.models import User
from .accounts.services import create_user
from .errors import ServiceError, Unprocessable
from .extensions import db
from .geo.models import Grid

DEMO_PASSWORD = "wangge-demo"
DEMO_GRID = "420502001001001"  # the first grid of the demo community


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    scope: str
    display_name: str


DEMO_ACCOUNTS = (
    DemoAccount("demo-admin", "admin", "420500", "演示 系统管理员"),
    DemoAccount("demo-supervisor", "supervisor", DEMO_GRID[:12], "演示 社区督导"),
    DemoAccount("demo-inspector", "inspector", "420500", "演示 纪检监察"),
    DemoAccount("demo-city", "city_viewer", "420500", "演示 市指挥中心"),
    DemoAccount("demo-grid", "grid_admin", DEMO_GRID, "演示 网格管理员"),
)

demo_cli = AppGroup("demo", help="Demo data for trying Wangge out (never in production).")


def require_grids() -> None:
    if db.session.scalar(select(Grid.id).where(Grid.code == DEMO_GRID)) is None:
        raise Unprocessable(f"The grids are not loaded (no grid {DEMO_GRID}); run "
                            f"`flask --app server grids import grids/yichang.geojson` first.")


def load_demo_accounts() -> list[str]:
    """Create the demo accounts that do not exist yet (password `wangge-demo`); returns the usernames created.
    Existing accounts are left exactly as they are. The caller commits."""
    require_grids()
    existing = set(db.session.scalars(select(User.username).where(
        User.username.in_([account.username for account in DEMO_ACCOUNTS]))))
    created = []
    for account in DEMO_ACCOUNTS:
        if account.username not in existing:
            create_user(account.username, DEMO_PASSWORD, account.role, [account.scope],
                        display_name=account.display_name)
            created.append(account.username)
    return created


@demo_cli.command("load")
def load_command():
    """Create the demo accounts (and records); safe to run again."""
    try:
        created = load_demo_accounts()
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    for account in DEMO_ACCOUNTS:
        state = "created" if account.username in created else "kept   "
        click.echo(f"{state} {account.username} ({account.role}, {account.scope})")
    click.echo(f"password for the demo accounts: {DEMO_PASSWORD}")


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_cli)
