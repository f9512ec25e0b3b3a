"""`itsm triage train` and `itsm triage evaluate` (SPEC 16): learn each process's triage model from its solved
tickets and store it; measure it on held-out tickets. Neither opens a network connection."""

from __future__ import annotations

import sys

import click

from .common import _database, _engine_errors


@click.group()
def triage() -> None:
    """Triage assistance: suggestions learned from the desk's own solved tickets (SPEC 16)."""


@triage.command("train")
@click.option("--process", "process", default=None, help="Only this process (default: every process with triage).")
@_engine_errors
def train_command(process: str | None) -> None:
    """Learn and store the triage model of each process that declares `triage` (served at once by every host)."""
    from itsm.engine import Engine
    from itsm.engine.reports.triage import train

    results = train(Engine(_database()), process)
    if not results:
        click.echo("no process declares triage: nothing to train")
    for result in results:
        click.echo(result.line())


@triage.command("evaluate")
@click.option("--process", "process", default=None, help="Only this process (default: every process with triage).")
@_engine_errors
def evaluate_command(process: str | None) -> None:
    """Held-out accuracy per field (and team): a model learned from four fifths of the solved tickets, measured
    on the other fifth, beside the majority-class baseline. Nothing is stored."""
    from itsm.engine import Engine
    from itsm.engine.reports.triage import evaluate

    results = evaluate(Engine(_database()), process)
    if not results:
        click.echo("no process declares triage: nothing to evaluate")
    for name, measured in results.items():
        if isinstance(measured, str):
            click.echo(f"{name}: {measured}")
            continue
        click.echo(f"{name}:")
        for line in measured:
            click.echo(line.line())
    sys.stdout.flush()
