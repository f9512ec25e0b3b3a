"""Rebuilding the full-text search documents of every ticket (what goes in them: `documents.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from itsm.store import tickets as ticket_rows
from itsm.store.search import write_document

from .documents import document

if TYPE_CHECKING:
    from .engine import Engine


def reindex(engine: Engine, batch: int = 500) -> int:
    """Rebuild every ticket's document under the active forms (after an upgrade, or when a publish changed
    which fields are text). Returns the number of tickets indexed."""
    pack = engine.definitions.active().pack
    done, last_id = 0, 0
    while True:
        with engine.db.write() as session:
            rows = ticket_rows.fields_after(session, last_id, batch)
            for ticket_id, process_id, fields in rows:
                process = pack.processes.get(process_id)
                if process is not None:
                    write_document(session, ticket_id, *document(pack.forms[process.form], fields or {}))
                    done += 1
        if len(rows) < batch:
            return done
        last_id = rows[-1][0]
