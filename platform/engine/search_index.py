"""What full-text search sees of a ticket, and the words a search looks for (known errors, issue 7).

The form decides which fields are text: its first `string` field without a `pattern` is the title (the
summary people write: `short_description`, a review's `summary`); the other pattern-free `string` fields
and every `text` field make the body. Fields with a pattern hold codes (phone numbers, ticket numbers),
choices and users are not prose. The engine writes a ticket's document in the transaction of the change
(`index_ticket`, called by `Operation.finish`), so the index never disagrees with a committed ticket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from itsm.interpreter import model as m
from itsm.store import Ticket
from itsm.store.search import write_document

if TYPE_CHECKING:
    from .core import Engine, Operation

MAX_TEXT = 20_000  # characters of a search text that are read (a description's maximum in the default pack)
MAX_TERMS = 32  # distinct words a search looks for: enough to rank, bounded cost on a 10k-character text
MAX_TERM_LENGTH = 64
WORD = re.compile(r"[^\W_]+")  # letters and digits of any script; everything else separates words
# PostgreSQL's `english` stop words, applied to the search text on both databases, so a text of only
# stop words asks nothing on SQLite either (FTS5 keeps stop words in its index).
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can did do does doing don down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
off on once only or other our ours ourselves out over own s same she should so some such t than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with you your yours yourself yourselves
""".split())


def document_fields(form: m.FormSpec) -> tuple[str | None, tuple[str, ...]]:
    """(title field, body fields) of a form."""
    prose = [f for f in form.fields if f.type == "text" or (f.type == "string" and f.pattern is None)]
    title = next((f.id for f in prose if f.type == "string"), None)
    return title, tuple(f.id for f in prose if f.id != title)


def document(form: m.FormSpec, fields: Mapping[str, Any]) -> tuple[str, str]:
    title_field, body_fields = document_fields(form)
    title = _text(fields.get(title_field)) if title_field else ""
    body = "\n".join(text for text in (_text(fields.get(name)) for name in body_fields) if text)
    return title, body


def title_of(form: m.FormSpec, fields: Mapping[str, Any]) -> str:
    title_field = document_fields(form)[0]
    return _text(fields.get(title_field)) if title_field else ""


def index_ticket(op: Operation, created: bool) -> None:
    """Write the ticket's document when it is new or one of its text fields changed."""
    title_field, body_fields = document_fields(op.form)
    if not created and not any(name in op.changes for name in (title_field, *body_fields) if name):
        return
    title, body = document(op.form, op.fields)
    write_document(op.session, op.ticket.id, title, body)


def reindex(engine: Engine, batch: int = 500) -> int:
    """Rebuild every ticket's document under the active forms (after an upgrade, or when a publish changed
    which fields are text). Returns the number of tickets indexed."""
    pack = engine.definitions.active().pack
    done, last_id = 0, 0
    while True:
        with engine.db.write() as session:
            rows = session.execute(select(Ticket.id, Ticket.process, Ticket.fields).where(Ticket.id > last_id)
                                   .order_by(Ticket.id).limit(batch)).all()
            for ticket_id, process_id, fields in rows:
                process = pack.processes.get(process_id)
                if process is not None:
                    write_document(session, ticket_id, *document(pack.forms[process.form], fields or {}))
                    done += 1
        if len(rows) < batch:
            return done
        last_id = rows[-1][0]


def query_terms(text: str) -> list[str]:
    """The distinct words of `text` worth searching for, in order: lower-cased, stop words and overlong
    words dropped, at most MAX_TERMS. Only letters and digits survive, so no query syntax can."""
    terms: dict[str, None] = {}
    for word in WORD.findall(text[:MAX_TEXT].lower()):
        if word in STOP_WORDS or len(word) > MAX_TERM_LENGTH or (len(word) == 1 and word.isascii() and word.isalpha()):
            continue
        terms.setdefault(word)
        if len(terms) == MAX_TERMS:
            break
    return list(terms)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
