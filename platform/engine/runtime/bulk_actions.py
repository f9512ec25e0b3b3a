"""Bulk actions of the agents' queue (`POST /api/tickets/bulk`, the queue page's bulk bar): one action on
many tickets, each ticket in its own transaction, so that a failure on one leaves the others done; the
answer lists every ticket's outcome (docs/decisions.md, "Bulk actions")."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import N_, BadRequest, EngineError
from .actors import Actor
from .linking import link

if TYPE_CHECKING:
    from .engine import Engine

ACTIONS = ("assign", "transition", "comment", "link")
MAX_TICKETS = 200


def bulk(engine: Engine, actor: Actor, numbers: Sequence[str], action: str, params: Mapping[str, Any],
         describe: Callable[[EngineError], dict[str, Any]] | None = None) -> dict[str, Any]:
    """`action` on each of `numbers` (duplicates once, in the order given): `assign` (`team`, `assignee`),
    `transition` (`transition`, `fields`, `comment`), `comment` (`text`, `internal`) or `link` (`to`: each
    ticket becomes a child of that one, the ongoing outage). Returns
    `{results: [{number, ok, state, team, assignee, version} or {number, ok, status, error, message,
    details}], succeeded, failed}`; `describe` gives a failure's error body (default: in English)."""
    describe = describe or (lambda exc: exc.to_dict())
    if action not in ACTIONS:
        raise BadRequest(N_("action must be one of: %(choices)s", choices=", ".join(ACTIONS)),
                         [{"field": "action", "message": N_("one of %(choices)s", choices=", ".join(ACTIONS))}])
    wanted = list(dict.fromkeys(n.strip() for n in numbers if n and n.strip()))
    if not wanted:
        raise BadRequest(N_("numbers must name at least one ticket"),
                         [{"field": "numbers", "message": N_("at least one ticket")}])
    if len(wanted) > MAX_TICKETS:
        raise BadRequest(N_("at most %(most)s tickets at once", most=MAX_TICKETS),
                         [{"field": "numbers", "message": N_("at most %(most)s tickets", most=MAX_TICKETS)}])
    if action == "transition" and not params.get("transition"):
        raise BadRequest(N_("name the transition to fire"),
                         [{"field": "transition", "message": N_("required for action transition")}])
    if action == "comment" and not str(params.get("text") or "").strip():
        raise BadRequest(N_("a comment needs text"), [{"field": "text", "message": N_("empty comment")}])
    if action == "assign" and not (params.get("team") or params.get("assignee")):
        raise BadRequest(N_("name a team or a person to assign the tickets to"),
                         [{"field": "team", "message": N_("a team or a person is required")}])
    if action == "link" and not str(params.get("to") or "").strip():
        raise BadRequest(N_("name the ticket to link them to"),
                         [{"field": "to", "message": N_("required for action link")}])
    results = []
    for number in wanted:
        try:
            ticket = _one(engine, actor, number, action, params)
        except EngineError as exc:
            results.append({"number": number, "ok": False, "status": exc.status, **describe(exc)})
        else:
            results.append({"number": number, "ok": True, "state": ticket["state"], "team": ticket["team"],
                            "assignee": ticket["assignee"], "version": ticket["version"]})
    succeeded = sum(1 for r in results if r["ok"])
    return {"results": results, "succeeded": succeeded, "failed": len(results) - succeeded}


def _one(engine: Engine, actor: Actor, number: str, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if action == "assign":
        return engine.assign(actor, number, params.get("team") or None, params.get("assignee") or None)
    if action == "transition":
        return engine.fire(actor, number, str(params["transition"]), dict(params.get("fields") or {}),
                           params.get("comment") or None)
    if action == "link":
        link(engine, actor, number, str(params["to"]).strip(), "parent")
        return engine.get(actor, number)
    return engine.comment(actor, number, str(params["text"]), bool(params.get("internal")))


def common_transitions(engine: Engine, actor: Actor, numbers: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """The transitions the actor may fire on every one of `numbers` now (in the first ticket's order), and
    each ticket's own list (a ticket the actor cannot see has none)."""
    each: dict[str, list[str]] = {}
    for number in dict.fromkeys(numbers):
        try:
            each[number] = engine.available_transitions(actor, number)
        except EngineError:
            each[number] = []
    lists = list(each.values())
    common = [t for t in lists[0] if all(t in other for other in lists[1:])] if lists else []
    return common, each
