"""Bounded renders: ordinary templates render exactly as Jinja's own sandbox renders them (the reference
path), and templates or data that would run away stop with `TemplateLimitExceeded`, after bounded work
and memory, whatever the machine (steps are counted, never timed)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2.sandbox import SandboxedEnvironment

from itsm.interpreter.template_checks import template_hazards
from itsm.interpreter.template_limits import MAX_STEPS, TemplateLimitExceeded, TemplateOutputTooLong
from itsm.interpreter.templates import BODY_CUT, MAX_BODY, compiled, payload_renderer, renderer

DEFINITIONS = Path(__file__).resolve().parents[3] / "definitions"
CONTEXT: dict[str, Any] = {
    "ticket": {"number": "INC0000042", "priority": "P2", "team": "service_desk", "assignee": None,
               "requester": "rita", "short_description": "VPN drops every hour", "tags": ["vpn", "mail", "wifi"],
               "description": "Since Monday.\nThe VPN client reconnects\n\nevery hour.", "count": 3,
               "notes": "line one\nline two", "impact": "high",
               "items": [{"name": "a", "n": 2}, {"name": "b", "n": 5}]},
    "clock": {"label": "Resolution", "deadline": "2026-03-05T16:00:00+01:00", "percent": 80, "threshold": "80%"},
    "actor": {"name": "lars"}, "requester": {"name": "rita", "email": "rita@example.invalid"},
}
ORDINARY = [
    "{% for tag in ticket.tags %}{{ loop.index }}/{{ loop.length }} {{ tag }}{% if not loop.last %}, {% endif %}"
    "{% else %}none{% endfor %}{% for x in [] %}{% else %} (empty){% endfor %}",
    "{% for tag in ticket.tags if tag != 'mail' %}{{ tag|upper }}{{ loop.cycle('-', '+') }}{% endfor %}",
    "{% for a in ticket.tags %}{% for b in ticket.tags %}{{ a[0] }}{{ b[0] }} {% endfor %}{% endfor %}",
    "{% macro row(label, value='-') %}{{ label|title }}: {{ value }}\n{% endmacro %}{{ row('team', ticket.team) }}"
    "{{ row('assignee') }}",
    "{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}{{ ticket.number }}{% endcall %}",
    "{% set ns = namespace(total=0) %}{% for i in ticket['items'] %}{% set ns.total = ns.total + i.n %}{% endfor %}"
    "{{ ns.total }}",
    "{% set block %}{% for t in ticket.tags %}{{ t }};{% endfor %}{% endset %}{{ block|length }} {{ block }}",
    "{% set seen = [] %}{% for t in ticket.tags %}{{ seen.append(t|upper) or '' }}{% endfor %}{{ seen }}",
    "{{ ticket.tags|join(', ') }} {{ ticket.tags|join }} {{ ticket['items']|map(attribute='name')|join('/') }}",
    "{{ ticket.description|replace('\n', ' / ') }} {{ ticket.description|replace('e', 'E', 2) }}",
    "{{ ticket.description|wordwrap(10) }}|{{ ticket.description|wordwrap(12, wrapstring='<br>') }}",
    "{{ ticket.notes|indent(4) }}|{{ ticket.notes|indent('> ', true) }}|{{ ticket.number|center(20) }}",
    "{{ ticket|tojson }} {{ ticket.tags|tojson(indent=2) }} {{ '%-12s|%5d|%.2f'|format('a', 3, 2.5) }}",
    "{{ '%s is %s' % (ticket.number, ticket.priority) }} {{ '{} / {:>6}'.format(ticket.number, 'x') }}",
    "{{ ticket.number.ljust(14, '.') }}{{ ticket.number.zfill(12) }} {{ 'a\tb'.expandtabs(4) }}",
    "{{ ', '.join(ticket.tags) }} {{ ticket.short_description.replace('VPN', 'vpn') }}",
    "{{ ticket['items']|batch(1)|list }} {{ ticket.tags|slice(2)|list }} {{ ticket['items']|sum(attribute='n') }}",
    "{{ ticket.tags|sort|first }} {{ ticket.tags|length }} {{ ticket|dictsort|first }} {{ 7 % 3 }} {{ 2 ** 8 }}",
    "{{ '=' * 20 }} {{ [1, 2] * 2 }} {{ ticket.count * 4 }} {{ range(3)|list }} {{ dict(a=1) }}",
    "{{ missing }}|{{ ticket.missing }}|{{ requester.name|capitalize }}|{{ ticket.description|truncate(20) }}",
    "{% filter upper %}{{ ticket.number }} {% endfilter %}{{ ticket.description|striptags|wordcount }}",
]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if "{{" in value or "{%" in value else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


PACK_TEMPLATES = sorted({s for path in DEFINITIONS.rglob("*.yaml") for doc in yaml.safe_load_all(path.read_text())
                         for s in _strings(doc)})


def outcome(render: Callable[[dict[str, Any]], str]) -> str:
    """The output, or the kind of error (intake templates read names this context does not have)."""
    try:
        return render(CONTEXT)
    except Exception as exc:
        return f"error: {type(exc).__name__}"


@pytest.mark.parametrize("text", ORDINARY + PACK_TEMPLATES)
def test_ordinary_templates_render_as_in_jinjas_own_sandbox(text: str) -> None:
    reference = outcome(SandboxedEnvironment(autoescape=False).from_string(text).render)
    assert outcome(renderer(text)) == reference
    assert outcome(compiled(text).render) == reference
    if text in ORDINARY:
        assert not reference.startswith("error")


@pytest.mark.parametrize("text", [
    "{{ '{:>1000000000}'.format('x') }}", "{{ '%01000000000d' % 1 }}", "{{ '%01000000000d'|format(1) }}",
    "{{ 'x'|center(1000000000) }}", "{{ 'x'|indent(1000000000, true) }}", "{{ 'x'.ljust(1000000000) }}",
    "{{ 'x'.zfill(1000000000) }}", "{{ '\t'.expandtabs(1000000000) }}", "{{ range(100000)|join('x' * 99999) }}",
    "{{ 'xy'|replace('', 'z' * 99999) * 9 }}", "{{ range(100000)|map('center', 99999)|join }}",
    "{{ [1]|batch(1000000000, 0)|list }}", "{{ [1]|slice(1000000000)|list }}", "{{ lipsum(1000000) }}",
    "{{ range(100000)|list|tojson(indent=1000000000) }}", "{{ 10 ** (10 ** 10) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% set ns = namespace(s='') %}{% for i in range(100000) %}{% set ns.s = ns.s ~ i ~ ns.s[:1000] %}"
    "{% endfor %}",
    "{% set x %}{% for i in range(100000) %}{{ 'y' * 99999 }}{% endfor %}{% endset %}",
    "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(60) }}",
    "{% for i in range(10) recursive %}{{ loop(range(10)) }}{% endfor %}",
    "{% for i in range(100000) if i < 0 %}{% endfor %}" * 20,
])
def test_runaway_templates_stop_with_bounded_memory(text: str) -> None:
    """Each of these would take seconds, or gigabytes, or never end; each stops with a clear error having
    allocated a few megabytes at most."""
    tracemalloc.start()
    try:
        with pytest.raises(TemplateLimitExceeded):
            renderer(text)({})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20


def test_data_can_make_a_valid_template_run_away_and_the_budget_stops_it() -> None:
    text = "{% for a in ticket.text %}{% for b in ticket.text %}.{% endfor %}{% endfor %}"
    assert template_hazards(text) == ()  # two levels: fine at load
    assert renderer(text)({"ticket": {"text": "x" * 100}}) == "." * 10_000
    with pytest.raises(TemplateLimitExceeded, match="more than 100,000 steps of work"):
        renderer(text)({"ticket": {"text": "x" * 5000}})


def test_the_budget_counts_steps_so_the_same_render_always_gives_the_same_answer() -> None:
    """A loop iteration costs the size of its body (an output node holding literal text) and one for the
    iteration itself: 33,333 iterations fit in 100,000 steps, 33,334 do not, on any machine at any load."""
    text = "{% for i in items %}.{% endfor %}"
    assert MAX_STEPS == 100_000
    assert len(renderer(text)({"items": range(33_333)})) == 33_333
    for _ in range(3):
        with pytest.raises(TemplateLimitExceeded):
            renderer(text)({"items": range(33_334)})


def test_methods_of_lists_cost_what_they_are_given_not_the_list_they_grow() -> None:
    text = "{% set seen = [] %}{% for i in items %}{{ seen.append(i) or '' }}{% endfor %}{{ seen|length }}"
    assert renderer(text)({"items": range(5000)}) == "5000"


def test_every_render_has_a_budget_of_its_own() -> None:
    text = "{% for i in items %}.{% endfor %}"
    render = renderer(text)
    for _ in range(5):  # each uses most of a budget
        assert len(render({"items": range(20_000)})) == 20_000


def test_output_over_the_limit_is_cut_with_the_marker_or_refused() -> None:
    text = "{{ ticket.text }}"
    render = renderer(text)
    assert render({"ticket": {"text": "short"}}, 100, "[cut]") == "short"
    cut = render({"ticket": {"text": "é" * 1000}}, 101, "[cut]")
    assert cut == "é" * 48 + "[cut]" and len(cut.encode()) == 101  # never half a character
    with pytest.raises(TemplateOutputTooLong, match="longer than 100 bytes"):
        render({"ticket": {"text": "x" * 101}}, 100)
    body = render({"ticket": {"text": "line\n" * 20_000}}, MAX_BODY, BODY_CUT)
    assert len(body.encode()) <= MAX_BODY and body.endswith(BODY_CUT) and body.startswith("line\nline\n")


def test_intake_templates_have_the_same_bounds() -> None:
    text = "{% for a in payload.text %}{% for b in payload.text %}.{% endfor %}{% endfor %}"
    assert payload_renderer(text)({"payload": {}}) == ""  # a missing key renders nothing
    with pytest.raises(TemplateLimitExceeded):
        payload_renderer(text)({"payload": {"text": "x" * 5000}})

