"""What full-text search sees of a ticket (SPEC 10 `q=`, known errors): pure functions of its form and values.

What search sees of a ticket comes from its form: the first `string` field without a `pattern` is the title
(the summary people write: `short_description`, a review's `summary`); the other pattern-free `string`
fields and every `text` field make the body. Fields with a pattern hold codes (phone numbers, ticket
numbers); choices and users are not prose. A change's plan carries the new document when the ticket is new
or one of these fields changed, so the index never disagrees with a committed ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from itsm.interpreter import model as m

TITLE_LENGTH = 120  # characters of a body field shown as a ticket's title when its form has no title field


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



def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
