"""`{{ timeline }}`: a ticket's history as text, one line per event and public comment (issue 7).

Lines look like `2026-03-09 10:55 CET  nils  start (assigned -> in_progress)`, in the pack's time zone.
Internal comments stay out; comments come from the comment rows, which also hold those actions wrote.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.orm import Session

from itsm.store import rows

MAX_VALUE = 120  # characters of a field value shown in a timeline line
QUIET_CHANGES = frozenset({"state"})  # shown by the transition itself


def timeline_text(session: Session, ticket_id: int, zone: tzinfo) -> str:
    """Events and public comments, oldest first."""
    entries: list[tuple[datetime, int, int, str, str]] = []
    for event in rows.events_of(session, ticket_id):
        line = _event_line(event)
        if line:
            entries.append((event.at, 0, event.id, event.actor, line))
    for comment in rows.comments_of(session, ticket_id, public_only=True):
        entries.append((comment.at, 1, comment.id, comment.author, f"comment: {_clip(comment.text, 2000)}"))
    entries.sort(key=lambda entry: entry[:3])
    return "\n".join(f"{at.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')}  {who}  {line}"
                     for at, _, _, who, line in entries)


def _event_line(event: Any) -> str:
    data = event.data or {}
    if event.kind == "create":
        return _with_changes("created", event.changes)
    if event.kind == "transition":
        return _with_changes(f"{event.transition} ({event.from_state} -> {event.to_state})", event.changes)
    if event.kind == "update":
        return _with_changes("updated", event.changes)
    if event.kind == "routing":
        who = f", {data['assignee']}" if data.get("assignee") else ""
        return f"assigned to {data.get('team') or 'no team'}{who} ({data.get('reason', 'routing')})"
    if event.kind == "sla":
        breach = ", breached" if data.get("breach") else ""
        return f"SLA {data.get('clock')}: {data.get('status')}{breach}"
    if event.kind == "comment":
        return ""  # the comment row says it (and internal ones stay out)
    details = ", ".join(f"{k} {_clip(v)}" for k, v in sorted(data.items()) if v not in (None, "", [], {}))
    return f"{event.kind}: {details}" if details else event.kind


def _with_changes(what: str, changes: dict[str, Any] | None) -> str:
    shown = [f"{name} = {_clip(new)}" for name, (_, new) in (changes or {}).items()
             if name not in QUIET_CHANGES and new not in (None, "")]
    return f"{what}: {'; '.join(shown)}" if shown else what


def _clip(value: Any, limit: int = MAX_VALUE) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
