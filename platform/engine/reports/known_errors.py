"""Known errors (issue 7): resolved incidents and review records whose text matches a description.

`suggest` ranks them by full-text relevance (bm25 on SQLite, ts_rank on PostgreSQL: `itsm.store.search`)
for the intake form; `suggest_for_ticket` does the same for a ticket's own text on its page; `link` records
the one-click "this is a known error of ..." link. Suggestions are limited to what the actor may see
(SPEC 9, 14): a requester is only reminded of their own earlier tickets (and an organization's contact of
its organization's), never shown other people's; a province desk only its province's.

What search sees of a ticket (its document) is `runtime.search_index`'s business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itsm.interpreter import model as m
from itsm.store import Ticket
from itsm.store import links as stored_links
from itsm.store.search import Knowledge, Match, match_knowledge
from itsm.store.search_text import excerpt, query_words

from ..boundary import guarded
from ..errors import N_, BadRequest
from ..runtime.actors import Actor
from ..runtime.documents import document, title_of
from ..runtime.linking import KNOWN_ERROR
from ..runtime.reviews import REVIEW_PROCESS
from ..runtime.visibility import notes_visible_to, viewer_of, visible_to

if TYPE_CHECKING:
    from ..runtime.engine import Engine

MAX_SUGGESTIONS = 20


def knowledge(process: str | None = None, exclude: str | None = None) -> Knowledge:
    """Tickets worth suggesting: resolved ones (in a state named `resolved`, or ended in a final state
    other than a cancel state such as `cancelled` or `withdrawn`: `closed`), and review records in any
    state but a cancel state; of `process` if given, never ticket `exclude`."""
    return Knowledge("resolved", tuple(sorted(m.CANCEL_STATES)), (REVIEW_PROCESS,), process, exclude)


@guarded
def suggest(engine: Engine, actor: Actor, text: str, *, process: str | None = None, exclude: str | None = None,
            limit: int = 5) -> list[dict[str, Any]]:
    """Known errors for `text`, best first. Text without searchable words (empty, punctuation, only stop
    words) gives no suggestions rather than an error."""
    if not 1 <= limit <= MAX_SUGGESTIONS:
        raise BadRequest(N_("limit must be between 1 and %(most)s", most=MAX_SUGGESTIONS))
    pack = engine.definitions.active().pack
    if process is not None and process not in pack.processes:
        raise BadRequest(N_("no process '%(process)s'", process=process),
                         [{"field": "process", "message": N_("unknown process")}])
    terms = query_terms(text)
    if not terms:
        return []
    found = knowledge(process, exclude)
    with engine.db.read() as session:
        viewer = viewer_of(session, actor, pack)
        matches = match_knowledge(session, terms, found, limit, visible_to(viewer), notes_visible_to(viewer))
        return [_suggestion(pack, match, terms) for match in matches]


@guarded
def suggest_for_ticket(engine: Engine, actor: Actor, number: str, *, limit: int = 5) -> list[dict[str, Any]]:
    """Known errors for a ticket's own text (its title and body fields), without the ticket itself; each
    says whether the ticket already links to it as a known error."""
    with engine.db.read() as session:
        work = engine.open(session, actor, number)
        title, body = document(work.form, work.fields)
        assert work.ticket.id is not None
        linked = stored_links.target_numbers(session, work.ticket.id, KNOWN_ERROR)
    items = suggest(engine, actor, f"{title}\n{body}", exclude=number, limit=limit)
    for item in items:
        item["linked"] = item["number"] in linked
    return items


@guarded
def links(engine: Engine, actor: Actor, number: str) -> list[dict[str, Any]]:
    """The ticket's links that the actor may follow, oldest first."""
    with engine.db.read() as session:
        work = engine.open(session, actor, number)
        pack = work.pack
        assert work.ticket.id is not None
        return [{"kind": kind, **_summary(pack, ticket)}
                for kind, ticket in stored_links.links_from(session, work.ticket.id,
                                                            visible_to(viewer_of(session, actor, pack)))]


def _suggestion(pack: m.PackSpec, found: Match, terms: list[str]) -> dict[str, Any]:
    """A suggestion; its excerpt is cut from the text as written (the body, else the title) around the
    first word of the search found there."""
    process = pack.processes.get(found.ticket.process)
    title, body = document(pack.forms[process.form], found.ticket.fields or {}) if process is not None else ("", "")
    return {**_summary(pack, found.ticket), "excerpt": excerpt([body, title], terms),
            "score": round(found.score, 6)}


def _summary(pack: m.PackSpec, ticket: Ticket) -> dict[str, Any]:
    process = pack.processes.get(ticket.process)
    title = title_of(pack.forms[process.form], ticket.fields or {}) if process is not None else ""
    return {"number": ticket.number, "process": ticket.process, "state": ticket.state,
            "priority": ticket.priority, "title": title}


def query_terms(text: str) -> list[str]:
    """The distinct words of `text` worth searching for, in order (`search_text.query_words`): lower-cased,
    stop words and overlong words dropped, at most 32. Only letters and digits survive, so no query syntax
    can."""
    return query_words(text)
