"""`renderer` renders exactly what `Template.render` renders, globals and sandbox included."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import TemplateError
from jinja2.sandbox import SecurityError

from itsm.interpreter.templates import TemplateFailed, compiled, render_payload, renderer

CONTEXT: dict[str, Any] = {"ticket": {"number": "INC1", "priority": "P2", "team": None, "items": [1, 2]},
                           "clock": {"label": "Response"}, "requester": {"name": "rita"}}
TEMPLATES = [
    "plain text",
    "SLA BREACHED: {{ clock.label }} for {{ ticket.number }} ({{ ticket.priority }})",
    '{"text": {{ ("on " ~ ticket.number ~ " (now with " ~ ticket.team ~ ")") | tojson }}}',
    "{% for i in range(2) %}{{ i }}{% endfor %} {{ dict(a=1) }} {{ ticket['items'] | join(',') }}",
    "{% set ns = namespace(n=0) %}{% for i in ticket['items'] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
    "{{ missing }}|{{ ticket.missing }}|{{ requester.name | upper }}",
    "{% if ticket.priority == 'P2' %}urgent{% else %}routine{% endif %}\n  {{ ticket.number }}\n",
]


@pytest.mark.parametrize("text", TEMPLATES)
def test_renders_as_jinja_does(text: str) -> None:
    assert renderer(text)(CONTEXT) == compiled(text).render(CONTEXT)


def test_the_context_wins_over_globals_and_is_not_kept() -> None:
    assert renderer("{{ range }}")({"range": "mine"}) == "mine"
    assert renderer("{{ ticket }}")({}) == compiled("{{ ticket }}").render({}) == ""


def test_every_render_failure_is_one_exception_with_its_cause() -> None:
    """The engine maps one exception (TemplateFailed) to a typed error; the reason stays readable."""
    with pytest.raises(SecurityError):  # Jinja's own errors stay as they are: already template errors
        renderer("{{ ticket.__class__.__mro__ }}")({"ticket": object()})
    with pytest.raises(TemplateError, match="'missing' is undefined"):
        renderer("{{ missing.deeper }}")({})
    with pytest.raises(TemplateFailed, match=r"division by zero"):
        renderer("{{ ticket.count / 0 }}")({"ticket": {"count": 3}})
    with pytest.raises(TemplateFailed) as failed:
        renderer("{{ ticket.count + 1 }}")({"ticket": {"count": "three"}})
    assert str(failed.value) == "can only concatenate text (not a number) to text"  # Python's names in words
    with pytest.raises(TemplateFailed) as failed:
        renderer("{{ ticket.count / 2 }}")({"ticket": {"count": "three"}})
    assert str(failed.value) == "unsupported operand type(s) for /: text and a number"
    with pytest.raises(TemplateFailed):
        render_payload("{{ payload.text + 1 }}", {"payload": {"text": "x"}})
    assert render_payload("{{ payload.a.b.c }}", {"payload": {}}) == ""  # missing keys render nothing


@pytest.mark.parametrize("text", ["{{ 'ab' * 10**10 }}", "{{ ticket.note * 10**10 }}", "{{ 10**10 * [0] }}",
                                  "{{ '-' * ticket.count }}", "{{ 10 ** (10 ** 10) }}", "{{ ticket.count ** 999 }}"])
def test_repetition_and_powers_cannot_build_gigabytes(text: str) -> None:
    """Neither the template's author nor a field's value (`ticket.count`) can make `*` or `**` allocate
    gigabytes; compiling does not fold them either (it would run out of memory before any render)."""
    context = {"ticket": {"note": "from a user", "count": 10**9}}
    with pytest.raises(SecurityError):  # the bounds' TemplateLimitExceeded is a sandbox error
        renderer(text)(context)


def test_ordinary_repetition_and_powers_still_work() -> None:
    text = "{{ '=' * 5 }} {{ ticket.n * 3 }} {{ [1] * 2 }} {{ 2 ** 10 }} {{ 2.5 * 2 }}"
    assert renderer(text)({"ticket": {"n": 4}}) == "===== 12 [1, 1] 1024 5.0"
    with pytest.raises(SecurityError):
        render_payload("{{ payload.text * 10**9 }}", {"payload": {"text": "x"}})
