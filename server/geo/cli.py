"""`flask grids import|validate`: thin wrappers over the importer and the shared validator."""
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from grids.validate import validate_path

from .importer import ImportRejected, import_file

grids_cli = AppGroup("grids", help="Load and check the grid dataset.")


class _ProgressBar:
    """A click progress bar opened on the first report, once the validated file's size is known."""

    def __init__(self, label: str):
        self.label, self.bar, self.shown = label, None, 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@grids_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--retire-missing", is_flag=True,
              help="Retire grids in the database that this file no longer contains (default: keep them).")
def import_command(path: str, retire_missing: bool):
    """Validate PATH and load it in one transaction; on any problem nothing changes."""
    try:
        bar = _ProgressBar("importing grids")
        try:
            result = import_file(path, retire_missing=retire_missing, progress=bar)
        finally:
            bar.close()
    except ImportRejected as rejected:
        for problem in rejected.problems:
            click.echo(f"error [{problem.rule}]: {problem}", err=True)
        raise click.ClickException(rejected.message) from rejected
    for warning in result.warnings:
        click.echo(f"warning [{warning.rule}]: {warning}", err=True)
    click.echo(f"{result.total} grids: {result.created} created, {result.updated} updated, "
               f"{result.unchanged} unchanged, {result.retired} retired")
    if result.kept_missing:
        click.echo(f"{len(result.kept_missing)} grids in the database are not in this file and were kept "
                   f"(use --retire-missing to retire them)")


@grids_cli.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Treat wrong winding and gaps as errors, as for the shipped dataset.")
def validate_command(path: str, strict: bool):
    """Run the import checks on PATH without writing anything."""
    report = validate_path(path, strict=strict)
    for problem in report.problems:
        click.echo(f"{problem.severity} [{problem.rule}]: {problem}", err=True)
    if not report.ok:
        raise click.ClickException(f"{len(report.errors)} error(s); the file would be rejected")
    click.echo(f"ok: {len(report.grids)} grids, {len(report.warnings)} warning(s)")


def init_app(app: Flask) -> None:
    app.cli.add_command(grids_cli)
