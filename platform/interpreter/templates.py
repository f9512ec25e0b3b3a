"""Pack templates: Jinja in a sandbox whose renders are bounded in work and output (SPEC 4, notification), and
the checks `itsm validate` makes on them (syntax here, constructs that can run away in `template_checks`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, lru_cache, wraps
from typing import Any, Protocol

from jinja2 import ChainableUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from .template_limits import (
    CHARGE_FILTER,
    CHARS_PER_STEP,
    MAX_OUTPUT,
    MAX_POWER_BITS,
    MAX_REPEATED,
    BodyCosts,
    CountedNamespace,
    TemplateLimitExceeded,
    charge,
    charge_filter,
    check_format,
    checked_call,
    guarded_filters,
    lipsum,
    render_bounded,
    size_steps,
)

MAX_SUBJECT = 1024  # bytes of a rendered notification subject; longer ones are cut (docs/decisions.md)
MAX_BODY = 64 * 1024  # bytes of a rendered notification body
SUBJECT_CUT = " …"
BODY_CUT = "\n\n[… cut: the message was longer than 64 KiB]"


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox (no Python internals, ranges up to 100,000) that also bounds the work and the size of
    what a render builds (`template_limits`): `*`, `**` and `%` cannot build strings or numbers of gigabytes,
    nor can padding filters, string methods or formats, whether the template's author or a field's value asks
    for them. Intercepted operators are also left out of Jinja's constant folding, so `{{ 'a' * 10**10 }}`
    fails as it renders instead of exhausting memory while it compiles."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any):
        super().__init__(finalize=_charged, **options)
        self.filters = guarded_filters(self.filters)
        self.filters[CHARGE_FILTER] = charge_filter
        self.globals.update(lipsum=lipsum, namespace=CountedNamespace)

    def compile(self, source: str | nodes.Template, name: str | None = None,
                filename: str | None = None, raw: bool = False, defer_init: bool = False) -> Any:
        """Loop, macro and call-block bodies charged as they run (`BodyCosts`) in the compiled code; `parse`
        leaves the tree as written, for the checks at load."""
        if isinstance(source, str):
            source = self.parse(source, name, filename)
        return super().compile(BodyCosts().visit(source), name, filename, raw, defer_init)  # type: ignore[call-overload]

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                    if len(sequence) * times > MAX_REPEATED:
                        raise TemplateLimitExceeded(f"repetition longer than {MAX_REPEATED} items")
                    charge(len(sequence) * max(0, times) // CHARS_PER_STEP)
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 \
                    and right * abs(left).bit_length() > MAX_POWER_BITS:
                raise TemplateLimitExceeded(f"power larger than {MAX_POWER_BITS} bits")
        elif isinstance(left, str):  # "%": printf-style formatting
            check_format("%", left)
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        return super().call(context, obj, *checked_call(obj, args, kwargs), **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        @wraps(wrapped)
        def checked(*args: Any, **kwargs: Any) -> str:
            check_format("{}", text)
            return wrapped(*args, **kwargs)

        return checked


def _charged(value: Any) -> Any:
    """Every `{{ }}` output costs its size, also inside `{% set %}` blocks and macros, which the output cap
    does not see."""
    if value.__class__ is not str or len(value) >= CHARS_PER_STEP:
        charge(size_steps(value))
    return value


class TemplateFailed(TemplateError):
    """A template that cannot render with this context because of an operation its values do not support
    (`{{ ticket.count / 0 }}`). Every render failure is a `jinja2.TemplateError` (this one, Jinja's own, or a
    bound's `TemplateLimitExceeded`); the engine's boundary turns it into a typed error."""


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


class Render(Protocol):
    def __call__(self, context: Mapping[str, Any], limit: int = MAX_OUTPUT, marker: str | None = None) -> str: ...


@lru_cache(maxsize=4096)
def renderer(text: str) -> Render:
    """`compiled(text).render`, bounded: under a budget of work, its output at most `limit` bytes (cut to
    end in `marker`, or refused with `TemplateOutputTooLong` when there is none). Errors are Jinja's
    `TemplateError`s (`TemplateLimitExceeded` for the bounds), unchanged by Jinja's traceback rewriting."""
    return _bounded(compiled(text))


def _bounded(template: Template) -> Render:
    """Jinja's per-call merge of the template's globals (a ChainMap walked on every render) is done once
    here and the context laid over them, as `Template.render` does."""
    template_globals = dict(template.globals)
    root, new_context = template.root_render_func, template.new_context

    def render(context: Mapping[str, Any], limit: int = MAX_OUTPUT, marker: str | None = None) -> str:
        try:
            return render_bounded(root(new_context({**template_globals, **context}, shared=True)), limit, marker)
        except TemplateError:
            raise  # Jinja's own (undefined, sandbox, the bounds): already a template error with its reason
        except Exception as exc:  # whatever else a value makes the template do: a template error all the same
            raise _failure(exc) from exc

    return render


@cache
def payload_environment() -> SandboxedEnvironment:
    """Intake templates read free-form payloads: a missing key, at any depth, renders nothing."""
    return _Sandbox(autoescape=False, undefined=ChainableUndefined)


@lru_cache(maxsize=4096)
def compiled_for_payload(text: str) -> Template:
    return payload_environment().from_string(text)


@lru_cache(maxsize=4096)
def payload_renderer(text: str) -> Render:
    """`renderer` for intake templates."""
    return _bounded(compiled_for_payload(text))


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


def render_payload(text: str, context: Mapping[str, Any]) -> str:
    """An intake template over a free-form payload; raises TemplateFailed when the payload breaks it."""
    return payload_renderer(text)(context)
