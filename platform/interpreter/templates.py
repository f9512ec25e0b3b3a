"""Checking `{{ }}` templates at load: Jinja syntax in a sandboxed environment (SPEC 4, notification)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

MAX_REPEATED = 100_000  # items (characters) `'-' * n` may make
MAX_POWER_BITS = 1024  # size of the integer `a ** b` may make


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox (no Python internals, ranges up to 100,000) whose `*` and `**` cannot build strings or
    numbers of gigabytes either, whether the template's author or a field's value asks for them. Intercepted
    operators are also left out of Jinja's constant folding, so `{{ 'a' * 10**10 }}` fails as it renders
    instead of exhausting memory while it compiles."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(times, int) \
                        and len(sequence) * times > MAX_REPEATED:
                    raise SecurityError(f"repetition longer than {MAX_REPEATED} items")
        elif isinstance(left, int) and isinstance(right, int) and abs(left) > 1 \
                and right * abs(left).bit_length() > MAX_POWER_BITS:
            raise SecurityError(f"power larger than {MAX_POWER_BITS} bits")
        return super().call_binop(context, operator, left, right)


class TemplateFailed(Exception):
    """A template that cannot render with this context: a sandbox limit, or an operation its values do not
    support (`{{ ticket.count / 0 }}`). The engine's boundary turns it into a typed error."""


def _failure(exc: Exception) -> TemplateFailed:
    """One exception for every way a render fails; Python's type names in the reason become words."""
    reason = str(exc) or _KINDS.get(type(exc), "a failing operation")
    if not isinstance(exc, TemplateError):
        reason = _PYTHON_TYPE.sub(lambda m: _TYPE_WORDS[m.group(1) or m.group(2)], reason)
    return TemplateFailed(reason)


_KINDS: dict[type[Exception], str] = {ZeroDivisionError: "division by zero", TypeError: "values of the wrong kind",
                                      OverflowError: "a number too large", RecursionError: "nested too deeply"}
_TYPE_WORDS = {"str": "text", "int": "a number", "float": "a number", "bool": "true or false", "dict": "an object",
               "list": "a list", "tuple": "a list", "NoneType": "null"}
_PYTHON_TYPE = re.compile(r"""['"](str|int|float|bool|dict|list|tuple|NoneType)['"]"""  # quoted, or bare but
                          r"|\b(str|int|float|dict|NoneType)\b")  # unmistakable ("list" is an English word)


def is_template(text: Any) -> bool:
    """Whether pack text is a Jinja template (holds `{{` or `{%`) rather than a literal."""
    return isinstance(text, str) and ("{{" in text or "{%" in text)


@cache
def environment() -> SandboxedEnvironment:
    return _Sandbox(autoescape=False)


@lru_cache(maxsize=4096)
def compiled(text: str) -> Template:
    """A compiled template per distinct text: compiling costs milliseconds, rendering microseconds."""
    return environment().from_string(text)


@lru_cache(maxsize=4096)
def renderer(text: str) -> Callable[[Mapping[str, Any]], str]:
    """`compiled(text).render` for a context of string keys, minus Jinja's per-call merge of the template's
    globals (a ChainMap walked on every render): they are copied once here and the context is laid over
    them, as `Template.render` does. Errors propagate unchanged (without Jinja's traceback rewriting)."""
    template = compiled(text)
    template_globals = dict(template.globals)
    root, concat, new_context = template.root_render_func, template.environment.concat, template.new_context

    def render(context: Mapping[str, Any]) -> str:
        try:
            return concat(root(new_context({**template_globals, **context}, shared=True)))
        except Exception as exc:  # whatever a value makes the template do: one exception for the engine
            raise _failure(exc) from exc

    return render


@cache
def payload_environment() -> SandboxedEnvironment:
    """Intake templates read free-form payloads: a missing key, at any depth, renders nothing."""
    return _Sandbox(autoescape=False, undefined=ChainableUndefined)


@lru_cache(maxsize=4096)
def compiled_for_payload(text: str) -> Template:
    return payload_environment().from_string(text)


def render_payload(text: str, context: Mapping[str, Any]) -> str:
    """An intake template over a free-form payload; raises TemplateFailed when the payload breaks it."""
    try:
        return compiled_for_payload(text).render(context)
    except Exception as exc:
        raise _failure(exc) from exc


@lru_cache(maxsize=4096)
def template_problem(text: str) -> str | None:
    """Why `text` is not a valid template, or None."""
    try:
        environment().parse(text)
    except TemplateSyntaxError as exc:
        line = f" (line {exc.lineno} of the template)" if text.count("\n") and exc.lineno else ""
        return f"template syntax error: {exc.message}{line}"
    return None


@lru_cache(maxsize=4096)
def template_names(text: str) -> frozenset[str]:
    """The context names a (valid) template reads, Jinja's own globals (range, dict, ...) left out."""
    from jinja2 import meta

    env = environment()
    return frozenset(meta.find_undeclared_variables(env.parse(text)) - set(env.globals))
