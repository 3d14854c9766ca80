"""`flask devices enrollment-code|list|revoke`: thin wrappers over the device services."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from ..accounts.cli import fail, print_table
from ..errors import ServiceError
from ..timeutil import iso
from . import services
from .schemas import qr_text

devices_cli = AppGroup("devices", help="Enroll, list and revoke tablets.")


@devices_cli.command("enrollment-code")
@click.argument("username")
@click.option("--server", "server_url", envvar="WANGGE_PUBLIC_URL", default="http://127.0.0.1:5000",
              show_default=True, help="The address tablets reach this server at, put into the QR text "
                                      "(or set WANGGE_PUBLIC_URL).")
def enrollment_code_command(username: str, server_url: str):
    """A one-time code for the grid administrator USERNAME's tablet."""
    try:
        code, row = services.enrollment_for(username)
    except ServiceError as error:
        raise fail(error) from error
    click.echo(f"code:    {code}")
    click.echo(f"expires: {iso(row.expires_at)}")
    click.echo(f"qr text: {qr_text(server_url, code)}")


@devices_cli.command("list")
def list_command():
    """Every tablet with its owner and the health its last push reported."""
    rows = []
    for device in services.list_devices():
        flags = [name for name, on in (("stale", services.is_stale(device)),
                                       ("clock-skew", services.clock_skew_flagged(device))) if on]
        outbox = "" if device.outbox_depth is None else str(device.outbox_depth)
        rows.append((device.uid, device.user.username, device.label or "", device.app_version or "",
                     iso(device.last_push_at) or "never", outbox, ",".join(flags), iso(device.revoked_at) or ""))
    print_table(("uid", "owner", "label", "app", "last push", "outbox", "flags", "revoked"), rows)


@devices_cli.command("revoke")
@click.argument("uid")
def revoke_command(uid: str):
    """Revoke the tablet UID: its token stops working at once."""
    try:
        device = services.revoke_device(services.get_device(uid))
    except ServiceError as error:
        raise fail(error) from error
    click.echo(f"revoked {device.uid} ({device.user.username}) at {iso(device.revoked_at)}")


def init_app(app: Flask) -> None:
    app.cli.add_command(devices_cli)
