"""The `itsm` command line (SPEC 11). Each module holds the commands of one purpose; commands import what
they drive lazily, so `itsm validate` stays fast."""

from __future__ import annotations

from .common import main
from .mail import mail_intake
from .packs import diff, graph, init, schema, test_command, validate
from .people import org, token, user
from .runtime import db, publish, rollback, serve, worker
from .triage import triage

for command in (validate, graph, schema, test_command, diff, init, publish, rollback, db, worker, serve, user, org,
                token, mail_intake, triage):
    main.add_command(command)

__all__ = ["main"]
