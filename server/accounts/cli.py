"""`flask users create|list|disable`: thin wrappers over the account services."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from ..errors import ServiceError
from ..extensions import db
from . import services
from .auth import ROLES

users_cli = AppGroup("users", help="Manage user accounts.")


def fail(error: ServiceError) -> click.ClickException:
    """Roll back and turn a service error into a one-line CLI error (exit status 1) naming the bad values."""
    db.session.rollback()
    details = "; ".join(f"{field}: {', '.join(map(str, messages))}" if isinstance(messages, list)
                        else f"{field}: {messages}" for field, messages in error.errors.items())
    return click.ClickException(f"{error.message} ({details})" if details else error.message)


def print_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    for row in (headers, *rows):
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The user's role.")
@click.option("--scope", "scopes", required=True, multiple=True, metavar="CODE",
              help="A city, district, street, community or grid code the user works in (repeatable).")
@click.option("--display-name", help="The name shown in the app (default: the username).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked twice, hidden, when not given).")
def create_command(username: str, role: str, scopes: tuple[str, ...], display_name: str | None, password: str):
    """Create USERNAME with a role and one or more scope codes."""
    try:
        user = services.create_user(username, password, role, list(scopes), display_name=display_name)
        db.session.commit()
    except ServiceError as error:
        raise fail(error) from error
    click.echo(f"created {user.username} ({user.role}, {', '.join(user.scope_codes)})")


@users_cli.command("list")
def list_command():
    """List every account with its role, scopes and whether it is active."""
    rows = [(user.username, user.role, ",".join(user.scope_codes), "yes" if user.active else "no")
            for user in services.list_users()]
    print_table(("username", "role", "scopes", "active"), rows)


@users_cli.command("disable")
@click.argument("username")
def disable_command(username: str):
    """Disable USERNAME and revoke all its tokens, including its tablets' tokens."""
    try:
        user = services.disable_user(username)
        db.session.commit()
    except ServiceError as error:
        raise fail(error) from error
    click.echo(f"disabled {user.username}; its tokens are revoked")


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
