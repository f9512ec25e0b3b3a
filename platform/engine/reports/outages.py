"""The ongoing outages an agent is offered while recording an incident (issue 17, `GET /api/outages`, the
report form's "part of an ongoing outage").

Candidates are the open tickets of the process from the last three days that are an outage already (they
have children) or of the most urgent priority (`store.links.open_parents`), among those the agent may see.
What the agent has typed ranks them the way similar tickets are found (`reports.triage.similar`): the
full-text index (`store.search.sharing_words`: `match`'s any-word query, public text only, asked of the
candidates' rows alone) says which candidates share words with it, and the cosine of the two texts
(`triage.model.plain_similarity`, no model needed, Han characters alone left out) orders them; a candidate
below MATCH_FLOOR shares only common words ("cannot", "无法") and is not a match. The others are still
listed, newest first, as "other ongoing outages": the caller may know better than the words
(docs/decisions.md, "Outages offered at intake").
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from itsm.interpreter import model as m
from itsm.store import Ticket
from itsm.store import links as stored_links
from itsm.store.search import sharing_words
from itsm.triage.model import plain_similarity, plain_vector

from ..boundary import guarded
from ..errors import N_, BadRequest, Forbidden
from ..runtime.actors import Actor, fills_agent_fields
from ..runtime.documents import title_of
from ..runtime.triage_models import MAX_TEXT, text_of
from ..runtime.visibility import viewer_of, visible_to
from .known_errors import query_terms

if TYPE_CHECKING:
    from ..runtime.engine import Engine

OUTAGE_WINDOW = timedelta(hours=72)  # how recent an ongoing outage is to be offered at intake
OFFERED = 20  # candidates read (the newest first)
MATCH_FLOOR = 0.2  # cosine below which shared words are common ones, not the same outage (docs/decisions.md)


@guarded
def offered_outages(engine: Engine, actor: Actor, process: str, text: str = "", limit: int = OFFERED
                    ) -> dict[str, list[dict[str, Any]]]:
    """`matching`: the ongoing outages whose text is like `text`, most similar first, each with its `score`
    (0..1); `other`: the rest, newest first. Each names its number, title, priority and number of children.
    Agents of the process only (403); 400 for an unknown process."""
    pack = engine.definitions.active().pack
    spec = pack.processes.get(process)
    if spec is None:
        raise BadRequest(N_("no process '%(process)s'", process=process),
                         [{"field": "process", "message": N_("unknown process")}])
    if not fills_agent_fields(actor, spec, pack):
        raise Forbidden(N_("only the agents of a process attach incidents to its outages"))
    form = pack.forms[spec.form]
    terms = query_terms(text[:MAX_TEXT])
    with engine.db.read() as session:
        found = stored_links.open_parents(session, process, engine.clock() - OUTAGE_WINDOW,
                                          visible_to(viewer_of(session, actor, pack)), limit)
        sharing = sharing_words(session, terms, [ticket.id for ticket, _ in found])
    typed = plain_vector(text[:MAX_TEXT], characters=False) if sharing else {}
    matching: list[tuple[float, dict[str, Any]]] = []
    other: list[dict[str, Any]] = []
    for ticket, children in found:
        item = _offer(form, ticket, children)
        score = plain_similarity(typed, plain_vector(text_of(form, ticket.fields or {}), characters=False)) \
            if ticket.id in sharing else 0.0
        if score >= MATCH_FLOOR:
            matching.append((score, {**item, "score": round(score, 3)}))
        else:
            other.append(item)
    matching.sort(key=lambda pair: -pair[0])  # stable: equals stay newest first
    return {"matching": [item for _, item in matching], "other": other}


def _offer(form: m.FormSpec, ticket: Ticket, children: int) -> dict[str, Any]:
    return {"number": ticket.number, "title": title_of(form, ticket.fields or {}), "priority": ticket.priority,
            "children": children}
