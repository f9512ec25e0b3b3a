"""What a requester reads of their ticket's timeline (issue 17, `access.requester_event`): the desk's own fields
(`audience: agent`), the assignee, the SLA and triage bookkeeping and a routing event's rule are left out."""

from __future__ import annotations

from typing import Any

from itsm.engine.runtime.access import requester_event

DESK = frozenset({"work_notes", "known_error"})


def event(kind: str, changes: dict[str, Any] | None = None, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"at": "2026-12-06T10:00:00+08:00", "actor": "lars", "kind": kind, "transition": None, "from": None,
            "to": None, "changes": changes, "comment": None, "data": data}


def test_changes_of_the_desks_fields_and_the_assignee_are_left_out() -> None:
    shown = requester_event(event("transition", {"state": ["new", "assigned"], "work_notes": [None, "x"],
                                                 "assignee": [None, "dana"], "resolution_notes": [None, "Done."]}),
                            DESK)
    assert shown is not None and shown["changes"] == {"state": ["new", "assigned"], "resolution_notes": [None, "Done."]}


def test_an_update_of_desk_fields_only_and_the_bookkeeping_are_not_shown() -> None:
    assert requester_event(event("update", {"work_notes": [None, "x"], "known_error": [None, "KE1"]}), DESK) is None
    assert requester_event(event("update", {"assignee": ["lars", "dana"]}), DESK) is None
    assert requester_event(event("sla", data={"clock": "response", "status": "breached"}), DESK) is None
    assert requester_event(event("triage", data={"model": "m1", "fields": {}}), DESK) is None
    kept = requester_event(event("update", {"contact_phone": [None, "123"], "work_notes": [None, "x"]}), DESK)
    assert kept is not None and kept["changes"] == {"contact_phone": [None, "123"]}


def test_a_routing_event_says_the_team_only() -> None:
    shown = requester_event(event("routing", data={"team": "network_ops", "assignee": "nils",
                                                   "reason": "rule network_outage"}), DESK)
    assert shown is not None and shown["data"] == {"team": "network_ops"}
    untouched = event("comment")
    assert requester_event(untouched, DESK) == untouched
