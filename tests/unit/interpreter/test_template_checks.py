"""Checks at load for template constructs that can run away: what is found, at which line and column, and
what passes (ordinary templates, the default pack's, literal bounds within the limits)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import TemplateSyntaxError

from itsm.interpreter import check_pack
from itsm.interpreter.template_checks import MAX_LOOP_DEPTH, template_hazards
from itsm.interpreter.templates import BODY_CUT, MAX_BODY, renderer

DEFINITIONS = Path(__file__).resolve().parents[3] / "definitions"


def found(text: str) -> list[tuple[int, int | None, str]]:
    return [(h.line, h.column, h.message) for h in template_hazards(text)]


@pytest.mark.parametrize("text", [
    "{{ ticket.number }} is resolved: {{ ticket.short_description }}",
    "{% for tag in ticket.tags %}{% for part in tag.split('-') %}{{ part }}{% endfor %}{% endfor %}",
    "{{ '=' * 72 }} {{ [0] * 10 }} {{ 3 * ticket.count }} {{ ticket.price * ticket.count }} {{ 2 ** 10 }}",
    "{% for i in range(10) %}{{ i }}{% endfor %} {{ range(1, 1000)|join(',') }} {{ range(2 * 5)|list }}",
    "{{ ticket.summary|center(60) }} {{ ticket.notes|indent(4) }} {{ ticket.notes|indent('> ') }}",
    "{{ ticket.notes|wordwrap(72) }} {{ ticket.summary.ljust(20) }} {{ x|tojson }} {{ x|tojson(indent=2) }}",
    "{{ '%5d' % ticket.count }} {{ '%-20s|'|format(ticket.summary) }} {{ '{:>10}'.format(ticket.summary) }}",
    "{% macro row(label, value) %}{{ label }}: {{ value }}{% endmacro %}{{ row('a', 1) }}{{ row('b', 2) }}",
    "{% macro outer() %}{{ inner() }}{% endmacro %}{% macro inner() %}x{% endmacro %}{{ outer() }}",
    '{"text": {{ ("SLA breached: " ~ clock.label) | tojson }}}',
    "100 % sure: {{ 7 % 3 }} {{ ticket.count % 2 }}",
])
def test_ordinary_templates_pass(text: str) -> None:
    assert found(text) == []


def test_the_default_packs_templates_pass() -> None:
    spec, problems = check_pack(DEFINITIONS)
    assert spec is not None and [str(p) for p in problems if p.is_error] == []
    texts = [value for path in DEFINITIONS.rglob("*.yaml") for doc in yaml.safe_load_all(path.read_text())
             if isinstance(doc, dict) for value in _strings(doc) if "{{" in value or "{%" in value]
    assert len(texts) > 20
    assert [t for t in texts if template_hazards(t)] == []


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_loops_deeper_than_the_limit_are_reported_once_at_the_first_level_too_deep() -> None:
    text = ("{% for a in x %}\n"
            "  {% for b in x %}\n"
            "    {% for c in x %}{% for d in x %}{{ d }}{% endfor %}{% endfor %}\n"
            "  {% endfor %}\n"
            "{% endfor %}")
    assert MAX_LOOP_DEPTH == 2
    assert found(text) == [(3, 8, "loops nest 3 deep here; templates allow 2 (each level multiplies the work): "
                                  "loop over fewer levels")]


def test_the_column_is_that_of_the_construct_on_its_line() -> None:
    text = "for {% for a in x %}{% for b in x %}{% for c in x %}{% endfor %}{% endfor %}{% endfor %}"
    assert [(line, column) for line, column, _ in found(text)] == [(1, 40)]  # the third `for` tag, not the text
    assert text[36:42] == "{% for"


@pytest.mark.parametrize(("text", "message"), [
    ("{% for i in range(ticket.count) %}{% endfor %}", "range() with bounds taken from the data can run away"),
    ("{{ range(ticket.count)|join }}", "range() with bounds taken from the data"),
    ("{{ range(5000)|join }}", "range() of 5,000 items; templates allow 1,000"),
    ("{{ range(0, 100000, 10)|join }}", "range() of 10,000 items"),
])
def test_ranges_need_literal_bounds_within_the_limit(text: str, message: str) -> None:
    (hazard,) = found(text)
    assert message in hazard[2]


@pytest.mark.parametrize(("text", "message"), [
    ("{% macro m(n) %}{{ m(n - 1) }}{% endmacro %}", "macro 'm' calls itself"),
    ("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}",
     "macro 'a' calls 'b', which calls 'a' again"),
    ("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ c() }}{% endmacro %}{% macro c() %}{{ a() }}"
     "{% endmacro %}", "macro 'a' calls 'b', which leads back to 'a'"),
    ("{% macro m() %}{% call m() %}x{% endcall %}{% endmacro %}", "macro 'm' calls itself"),
    ("{% for item in tree recursive %}{{ loop(item.children) }}{% endfor %}", "recursive loops are not allowed"),
])
def test_recursion_is_reported_once_per_cycle(text: str, message: str) -> None:
    (hazard,) = found(text)
    assert hazard[2].startswith(message)


@pytest.mark.parametrize(("text", "message"), [
    ("{{ '=' * 100000 }}", "this repetition makes 100,000 characters (items); templates allow 1,000"),
    ("{{ 10000 * [0] }}", "this repetition makes 10,000"),
    ("{{ ('ab' * 100) * 100 }}", "this repetition makes 20,000"),
    ("{{ '-' * ticket.count }}", "repeating text a number of times taken from the data can run away"),
    ("{{ 2 ** ticket.count }}", "'**' with an exponent taken from the data"),
    ("{{ ticket.count ** 1000 }}", "an exponent of 1,000 makes numbers of thousands of digits"),
    ("{{ 100000 ** 64 }}", "this power has more than 1024 bits"),
])
def test_repetition_and_powers_that_explode(text: str, message: str) -> None:
    (hazard,) = found(text)
    assert message in hazard[2]


@pytest.mark.parametrize(("text", "message"), [
    ("{{ x|center(100000) }}", "center() with a width of 100,000 can blow up the output"),
    ("{{ x|center(width=5000) }}", "center() with a width of 5,000"),
    ("{{ x|indent(ticket.count) }}", "indent() with a width taken from the data"),
    ("{{ x|wordwrap(5000) }}", "wordwrap() with a width of 5,000"),
    ("{{ x|batch(ticket.count) }}", "batch() with a width taken from the data"),
    ("{{ x.ljust(99999) }}", ".ljust() with a width of 99,999"),
    ("{{ x.zfill(ticket.count) }}", ".zfill() with a width taken from the data"),
    ("{{ x|tojson(indent=100) }}", "tojson() needs a literal indent of at most 16"),
    ("{{ '%0999999d' % 1 }}", "a format width of 999,999 can blow up the output"),
    ("{{ '%*d' % (9, 1) }}", "format widths taken from the values"),
    ("{{ '%.99999f'|format(1.5) }}", "a format width of 99,999"),
    ("{{ '{:>99999}'.format(x) }}", "a format width of 99,999"),
    ("{{ '{:{w}}'.format(x, w=5) }}", "format widths taken from the values"),
])
def test_widths_that_blow_up_the_output(text: str, message: str) -> None:
    (hazard,) = found(text)
    assert message in hazard[2]


@pytest.mark.parametrize(("text", "tag"), [
    ("{% include 'footer.txt' %}", "{% include %}"), ("{% import 'm.txt' as m %}", "{% import %}"),
    ("{% from 'm.txt' import sig %}", "{% from ... import %}"), ("{% extends 'base.txt' %}", "{% extends %}"),
])
def test_other_template_files_do_not_exist(text: str, tag: str) -> None:
    (hazard,) = found(text)
    assert hazard[2].startswith(f"{tag} is not available in pack templates: there are no template files")
    assert hazard[:2] == (1, 4)


def test_a_syntax_error_is_the_only_finding_and_names_its_line() -> None:
    assert found("line one\n{% for a in x %}{{ range(ticket.n) }}\n{{ oops }") == [
        (3, None, "template syntax error: unexpected '}'")]


def test_several_findings_come_in_template_order() -> None:
    text = "{{ x|center(5000) }}\n{{ '-' * n }} {{ range(n) }}"
    assert [(line, column) for line, column, _ in found(text)] == [(1, 6), (2, 8), (2, 18)]


FRAGMENTS = ["{{ range(@) }}", "{% for i in range(@) %}", "{% endfor %}", "{{ 'ab' * @ }}", "{{ (@) * [0] }}",
             "{{ x|center(@) }}", "{{ x|indent(@) }}", "{{ x.ljust(@) }}", "{{ 2 ** @ }}", "{{ @ ** 3 }}",
             "{{ '%0@d' % 1 }}", "{{ '{:>@}'.format(1) }}", "{% macro m@() %}{{ m1() }}{% endmacro %}",
             "{{ x|tojson(indent=@) }}", "{{ x|wordwrap(@, wrapstring='-') }}", "\n", "text @ "]
LITERALS = ["0", "-1", "1", "999", "1001", "0.5", "1e400", "-1e400", "10**30", "1000000000000000000000000",
            "x", "ticket.count", "'7'", "none", "true", "[1, 2]", "1, 2, 0", "1, 10**6, 1", "*args"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from(LITERALS)), max_size=8))
def test_the_checks_never_crash_on_odd_literals(parts: list[tuple[str, str]]) -> None:
    text = "".join(fragment.replace("@", literal) for fragment, literal in parts)
    for hazard in template_hazards(text):
        assert hazard.line >= 1 and hazard.message


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from(LITERALS)), max_size=6))
def test_unchecked_templates_end_with_output_or_an_ordinary_error(parts: list[tuple[str, str]]) -> None:
    """Checked or not, a template renders or fails with an ordinary error within its bounds; a recursion or
    memory error never escapes."""
    text = "".join(fragment.replace("@", literal) for fragment, literal in parts)
    try:
        render = renderer(text)
    except TemplateSyntaxError:
        return
    try:
        render({"x": "abc\tdef", "ticket": {"count": 10**6}}, MAX_BODY, BODY_CUT)
    except (RecursionError, MemoryError):  # pragma: no cover - what the bounds are for
        raise
    except Exception:
        pass
