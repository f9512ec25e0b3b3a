"""`itsm mail-intake`: the SMTP listener, or one message from a file or stdin (for mail pipelines)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click


@click.command("mail-intake")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535), help="SMTP port.")
@click.option("--file", "path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Record one message (an .eml file, - for stdin) instead of listening.")
@click.option("--intake", "intake_id", help="Id of the pack's email intake (default: the first one).")
def mail_intake(host: str, port: int, path: Path | None, intake_id: str | None) -> None:
    """Turn mail into tickets: a new mail opens an incident for its sender, a reply whose subject names a
    ticket becomes a comment on it (see the pack's intake with source: email)."""
    from itsm.engine import Engine, EngineError

    from .common import _database

    engine = Engine(_database())
    if path is not None:
        raw = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        from itsm.engine.channels.mail import receive_mail

        try:
            result = receive_mail(engine, raw, intake_id)
        except EngineError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)
        if result["action"] == "rejected":
            click.echo(f"rejected: {result['message']}", err=True)
            sys.exit(1)
        if result["action"] == "ignored":
            click.echo(f"ignored: {result['message']}")
            return
        click.echo(f"{result['action']} {result['number']}")
        return
    from itsm.engine.channels.mail import email_intake
    from itsm.engine.channels.mail_listener import start_listener

    try:
        intake = email_intake(engine.definitions.active().pack, intake_id)
    except EngineError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    controller = start_listener(engine, host, port, intake.id)
    click.echo(f"mail-intake: intake '{intake.id}' listening for SMTP on {host}:{port} (Ctrl-C stops)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
