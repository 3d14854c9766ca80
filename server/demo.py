"""`flask demo load`: demo accounts and records for trying Wangge out. Never run in production.

Idempotent: whatever already exists is kept as it is, so running it again changes nothing.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from .accounts.models import User
from .accounts.scope import Scope
from .accounts.services import create_user
from .errors import ServiceError, Unprocessable
from .extensions import db
from .geo.models import Grid
from .records.services import Actor, create_record, existing_record_ids
from .timeutil import utcnow

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


DEMO_NAMESPACE = uuid.UUID("8d5b1f0e-4b1a-4c77-9a63-2f4e0c9a1d2e")
DEMO_RECORDS = (
    ("mediation-1", "mediation", 30, {
        "dispute_type": "neighbour", "summary": "楼上住户夜间噪音扰民，双方多次争执。", "outcome": "agreement",
        "parties": [{"name": "王建国", "role": "applicant", "phone": "13907170001"},
                    {"name": "刘芳", "role": "respondent", "phone": "13907170002"}],
        "agreement_text": "晚十点后不再使用大功率音响。", "location": {"lon": 111.2905, "lat": 30.7301}}),
    ("mediation-2", "mediation", 6, {
        "dispute_type": "property_management", "summary": "业主与物业因停车费标准产生纠纷。",
        "outcome": "in_progress", "parties": [{"name": "陈明", "role": "applicant"}],
        "follow_up_on": "2026-12-05"}),
    ("labor-1", "labor_service", 50, {
        "service_type": "unemployment_registration", "person": [{"name": "赵丽", "phone": "13807170003"}],
        "outcome": "completed", "note": "已协助办理失业登记并推荐培训。"}),
    ("labor-2", "labor_service", 3, {
        "service_type": "wage_arrears_complaint", "person": [{"name": "孙强"}], "outcome": "referred",
        "referred_to": "区人社局劳动监察大队"}),
    ("integrity-1", "integrity", 20, {
        "urgency": "normal", "subject_kind": "community_cadre", "subject": "（演示）某社区工作人员",
        "concern_type": "benefit_favouritism", "description": "（演示数据）群众反映低保评议中存在优亲厚友。",
        "source": "resident_report"}),
    ("visit-1", "visit_round", 26, {
        "started_at": "2026-11-26T01:00:00Z", "ended_at": "2026-11-26T03:30:00Z",
        "households": [{"household": "1栋1单元101", "outcome": "visited"},
                       {"household": "1栋1单元102", "outcome": "nobody_home"},
                       {"household": "1栋1单元201", "outcome": "visited"}],
        "topics": ["environment", "disputes"], "publicity": ["leaflets"], "leaflets_delivered": 3}),
    ("visit-2", "visit_round", 2, {
        "started_at": "2026-11-27T01:00:00Z", "ended_at": "2026-11-27T02:00:00Z",
        "households": [{"household": "2栋2单元301", "outcome": "refused"}], "topics": ["safety"]}),
)


def load_demo_records() -> list[str]:
    """A few records of each category by demo-grid, with fixed ids so a second run adds nothing."""
    author = db.session.scalar(select(User).where(User.username == "demo-grid"))
    actor = Actor(user_id=author.id)
    created = []
    for name, category, hours_ago, values in DEMO_RECORDS:
        record_id = str(uuid.uuid5(DEMO_NAMESPACE, name))
        if existing_record_ids([record_id]):
            continue
        create_record(record_id=record_id, category_key=category, grid_code=DEMO_GRID, values=values,
                      occurred_at=utcnow() - timedelta(hours=hours_ago), occurred_at_server_est=None,
                      actor=actor, scope=Scope((DEMO_GRID,)))
        created.append(name)
    return created


@demo_cli.command("load")
def load_command():
    """Create the demo accounts and records; safe to run again."""
    try:
        created = load_demo_accounts()
        db.session.flush()
        records = load_demo_records()
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    for account in DEMO_ACCOUNTS:
        state = "created" if account.username in created else "kept   "
        click.echo(f"{state} {account.username} ({account.role}, {account.scope})")
    click.echo(f"demo records: {len(records)} new, {len(DEMO_RECORDS) - len(records)} already there")
    click.echo(f"password for the demo accounts: {DEMO_PASSWORD}")


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_cli)
