"""Rebuilding the full-text search documents of every ticket (what goes in them: `documents.py`)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from itsm.store import rows as stored_rows
from itsm.store import tickets as ticket_rows
from itsm.store.search import replace_documents

from .documents import document

if TYPE_CHECKING:
    from .engine import Engine


def reindex(engine: Engine, batch: int = 500) -> int:
    """Rebuild every ticket's document under the active forms (after an upgrade, or when a publish changed
    which fields are text), its comments included, `batch` tickets per transaction. Returns the number of
    tickets indexed."""
    pack = engine.definitions.active().pack
    done, last_id = 0, 0
    while True:
        with engine.db.write() as session:
            rows = ticket_rows.fields_after(session, last_id, batch)
            comments: dict[tuple[int, bool], list[str]] = defaultdict(list)
            for ticket_id, text, internal in stored_rows.comment_texts(session, [row[0] for row in rows]):
                comments[(ticket_id, internal)].append(text)
            documents = []
            for ticket_id, process_id, fields in rows:
                process = pack.processes.get(process_id)
                if process is not None:
                    title, body = document(pack.forms[process.form], fields or {})
                    documents.append((ticket_id, title, body, "\n".join(comments[(ticket_id, False)]),
                                      "\n".join(comments[(ticket_id, True)])))
            replace_documents(session, documents)
            done += len(documents)
        if len(rows) < batch:
            return done
        last_id = rows[-1][0]
