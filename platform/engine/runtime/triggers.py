"""Process triggers (SPEC 4): on an event, when a condition holds, actions after the event's own.

A trigger runs in the change that caused it, on the same working copy, so its outbox rows and field
changes are written in the same transaction or not at all (SPEC 8's outbox rule). Triggers do not cause
events of their own: a trigger's `set` does not run the `update` triggers, and a trigger's `comment`
does not run the `comment` triggers (one event, one pass). What an event adds to the names (`comment.*`,
`clock`, `threshold`) and to the templates (`comment.text`, `clock`) lives only while its triggers run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .actions import run_actions
from .work import Work


def run_triggers(work: Work, on: str, names: Mapping[str, Any] | None = None,
                 template: Mapping[str, Any] | None = None) -> bool:
    """Run the process's triggers on event `on` whose `when:` holds; whether any ran."""
    triggers = [trigger for trigger in work.process.triggers if trigger.on == on]
    if not triggers:
        return False
    saved_names, saved_template = dict(work.extra_names), dict(work.extra_template)
    work.extra_names.update(names or {})
    work.extra_template.update(template or {})
    ran = False
    try:
        for trigger in triggers:
            if trigger.when is None or trigger.when.test(work.context()):
                ran = True
                run_actions(work, trigger.actions)
    finally:
        work.extra_names, work.extra_template = saved_names, saved_template
    return ran


def comment_facts(text: str, internal: bool, author: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The names (`comment.public`, `comment.author`) and the template values (`comment.text` too) of a
    comment trigger."""
    facts = {"public": not internal, "author": author}
    return {"comment": facts}, {"comment": {**facts, "text": text}}
