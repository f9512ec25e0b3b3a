"""Known errors (issue 7): resolved incidents and review records whose text matches a description.

`suggest` ranks them by full-text relevance (bm25 on SQLite, ts_rank on PostgreSQL: `itsm.store.search`)
for the intake form; `suggest_for_ticket` does the same for a ticket's own text on its page; `link` records
the one-click "this is a known error of ..." link. Suggestions are limited to what the actor may see
(SPEC 9): a requester is only reminded of their own earlier tickets, never shown other people's.

What search sees of a ticket comes from its form: the first `string` field without a `pattern` is the title
(the summary people write: `short_description`, a review's `summary`); the other pattern-free `string`
fields and every `text` field make the body. Fields with a pattern hold codes (phone numbers, ticket
numbers); choices and users are not prose. The engine writes a ticket's document in the transaction of the
change (`index_ticket`, called by `Operation.finish`), so the index never disagrees with a committed ticket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, select

from itsm.interpreter import model as m
from itsm.store import Link, Ticket
from itsm.store.models import LINK_INVERSE
from itsm.store.search import Match, match, write_document

from .actors import Actor, visible_to
from .boundary import guarded
from .errors import BadRequest, Forbidden, ValidationFailed
from .reviews import REVIEW_PROCESS

if TYPE_CHECKING:
    from .core import Engine, Operation

MAX_SUGGESTIONS = 20
KNOWN_ERROR = "known_error"
MAX_TEXT = 20_000  # characters of a search text that are read (a description's maximum in the default pack)
MAX_TERMS = 32  # distinct words a search looks for: enough to rank, bounded cost on a 10k-character text
MAX_TERM_LENGTH = 64
TITLE_LENGTH = 120  # characters of a body field shown as a ticket's title when its form has no title field
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


def knowledge() -> ColumnElement[bool]:
    """Tickets worth suggesting: resolved ones (in a state named `resolved`, or ended in a final state
    other than a cancel state such as `cancelled` or `withdrawn`: `closed`), and review records in any
    state but a cancel state."""
    not_cancelled = Ticket.state.not_in(m.CANCEL_STATES)
    return ((Ticket.state == "resolved") | (Ticket.is_open.is_(False) & not_cancelled)
            | ((Ticket.process == REVIEW_PROCESS) & not_cancelled))


@guarded
def suggest(engine: Engine, actor: Actor, text: str, *, process: str | None = None, exclude: str | None = None,
            limit: int = 5) -> list[dict[str, Any]]:
    """Known errors for `text`, best first. Text without searchable words (empty, punctuation, only stop
    words) gives no suggestions rather than an error."""
    if not 1 <= limit <= MAX_SUGGESTIONS:
        raise BadRequest(f"limit must be between 1 and {MAX_SUGGESTIONS}")
    pack = engine.definitions.active().pack
    if process is not None and process not in pack.processes:
        raise BadRequest(f"no process '{process}'", [{"field": "process", "message": "unknown process"}])
    terms = query_terms(text)
    if not terms:
        return []
    where = [knowledge()]
    visible = visible_to(actor, pack)
    if visible is not None:
        where.append(visible)
    if process is not None:
        where.append(Ticket.process == process)
    if exclude is not None:
        where.append(Ticket.number != exclude)
    with engine.db.read() as session:
        return [_suggestion(pack, found) for found in match(session, terms, where, limit)]


@guarded
def suggest_for_ticket(engine: Engine, actor: Actor, number: str, *, limit: int = 5) -> list[dict[str, Any]]:
    """Known errors for a ticket's own text (its title and body fields), without the ticket itself; each
    says whether the ticket already links to it as a known error."""
    with engine.db.read() as session:
        op = engine._open(session, actor, number)
        title, body = document(op.form, op.fields)
        linked = set(session.scalars(select(Ticket.number).join(Link, Link.target_id == Ticket.id)
                                     .where(Link.source_id == op.ticket.id, Link.kind == KNOWN_ERROR)))
    items = suggest(engine, actor, f"{title}\n{body}", exclude=number, limit=limit)
    for item in items:
        item["linked"] = item["number"] in linked
    return items


@guarded
def link(engine: Engine, actor: Actor, number: str, to: str, kind: str = KNOWN_ERROR) -> tuple[dict[str, Any], bool]:
    """Link `number` to `to` (both directions, `kind` from `number`'s side) unless that link exists:
    (the link, whether it was created). Agents of the ticket only; both tickets get a `link` event."""
    if kind not in LINK_INVERSE:
        raise ValidationFailed(f"unknown link kind '{kind}'", [{"field": "kind", "message": "must be one of "
                                                                + ", ".join(sorted(LINK_INVERSE))}])
    if to == number:
        raise ValidationFailed("a ticket cannot link to itself", [{"field": "to", "message": "the ticket itself"}])
    with engine.db.write() as session, session.no_autoflush:
        op = engine._open(session, actor, number, for_update=True)
        if not op.is_agent():
            raise Forbidden("only agents link tickets")
        target = session.scalar(select(Ticket).where(Ticket.number == to))
        other = engine.operation(session, actor, target) if target is not None else None
        if target is None or other is None or not other.can_see():
            raise ValidationFailed(f"no ticket {to}", [{"field": "to", "message": f"no ticket {to}"}])
        result = {"from": number, "to": to, "kind": kind}
        exists = session.scalar(select(Link.id).where(Link.source_id == op.ticket.id, Link.target_id == target.id,
                                                      Link.kind == kind))
        if exists is not None:
            return result, False
        op.pending_links.append((target, kind))  # finish writes both rows
        op.finish("link", data={"to": to, "kind": kind})
        other.finish("link", data={"to": number, "kind": LINK_INVERSE[kind]})
        engine._flush(session)
        return result, True


@guarded
def links(engine: Engine, actor: Actor, number: str) -> list[dict[str, Any]]:
    """The ticket's links that the actor may follow, oldest first."""
    with engine.db.read() as session:
        op = engine._open(session, actor, number)
        query = (select(Link.kind, Ticket).join(Ticket, Ticket.id == Link.target_id)
                 .where(Link.source_id == op.ticket.id).order_by(Link.id))
        visible = visible_to(actor, op.pack)
        if visible is not None:
            query = query.where(visible)
        pack = op.pack
        return [{"kind": kind, **_summary(pack, ticket)} for kind, ticket in session.execute(query)]


def _suggestion(pack: m.PackSpec, found: Match) -> dict[str, Any]:
    return {**_summary(pack, found.ticket), "excerpt": found.excerpt, "score": round(found.score, 6)}


def _summary(pack: m.PackSpec, ticket: Ticket) -> dict[str, Any]:
    process = pack.processes.get(ticket.process)
    title = title_of(pack.forms[process.form], ticket.fields or {}) if process is not None else ""
    return {"number": ticket.number, "process": ticket.process, "state": ticket.state,
            "priority": ticket.priority, "title": title}


# -- the search documents ----------------------------------------------------------------------

@m.per_spec
def document_fields(form: m.FormSpec) -> tuple[str | None, tuple[str, ...]]:
    """(title field, body fields) of a form; kept per compiled form, since every change asks, the worker
    once per ticket swept."""
    prose = [f for f in form.fields if f.type == "text" or (f.type == "string" and f.pattern is None)]
    title = next((f.id for f in prose if f.type == "string"), None)
    return title, tuple(f.id for f in prose if f.id != title)


def document(form: m.FormSpec, fields: Mapping[str, Any]) -> tuple[str, str]:
    title_field, body_fields = document_fields(form)
    title = _text(fields.get(title_field)) if title_field else ""
    body = "\n".join(text for text in (_text(fields.get(name)) for name in body_fields) if text)
    return title, body


def title_of(form: m.FormSpec, fields: Mapping[str, Any]) -> str:
    """What names a ticket (pages, suggestions, links): its title field, else the first line of its first
    non-empty body field (a form without a title field, or a ticket without a title) cut to TITLE_LENGTH
    characters; "" when all are empty."""
    title_field, body_fields = document_fields(form)
    title = _text(fields.get(title_field)) if title_field else ""
    if title:
        return title
    for name in body_fields:
        text = _text(fields.get(name))
        if text:
            line = text.splitlines()[0].strip()
            return line if len(line) <= TITLE_LENGTH else line[:TITLE_LENGTH - 1].rstrip() + "…"
    return ""


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
