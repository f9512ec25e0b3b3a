"""Bounds on one render of a pack template: a budget of work, caps on what one operation may build, and a cap on
the output, so that neither a template nor the data it reads can take seconds of CPU or gigabytes of memory
inside a ticket's transaction (SPEC 4: "sandboxed ... with bounded time and output").

Work is counted in steps, not timed, so the same template and data give the same result on any machine: a
loop iteration, a macro call or a `{% call %}` body costs the size of the body it runs (counted once when the
template compiles), any other call one, filters and string methods what they read and build (a step per 64
characters, a step per item, more for slow ones such as `wordwrap`), and so does every `{{ }}` output. Only
renders started through `render_bounded` are counted; the checks on sizes (widths, repetitions, formats)
hold for every render.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import wraps
from string import Formatter
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.utils import Namespace, generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

MAX_STEPS = 100_000  # work per render (see the module docstring): 10-30 ms at worst
MAX_REPEATED = 100_000  # items (characters) `'-' * n` may make; also the widest padding or format width
MAX_POWER_BITS = 1024  # size of the integer `a ** b` may make
MAX_BUILT = 1_000_000  # characters one operation (join, replace, indent, wordwrap) may build
MAX_JSON_INDENT = 16
MAX_OUTPUT = 1 << 20  # bytes of output of any render (a field value, a comment); notifications cut lower
CHARS_PER_STEP = 64
MACRO_CALL_STEPS = 16  # a call of a macro costs about as much as evaluating 16 template nodes
CHARGE_FILTER = "itsm_charge"  # added where bodies start when a template compiles (`BodyCosts`)


class TemplateLimitExceeded(SecurityError):
    """A render went over one of the bounds: the engine refuses the action with this message (a 409, like
    any failing template), never a 500 and never seconds of work."""


class TemplateOutputTooLong(TemplateLimitExceeded):
    """The output is longer than the render allows and the caller asked for no cut."""


class Budget:
    """The steps left to one render."""

    __slots__ = ("left",)

    def __init__(self, steps: int = MAX_STEPS):
        self.left = steps

    def charge(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise TemplateLimitExceeded(
                f"the template needs more than {MAX_STEPS:,} steps of work (a loop over large data, or "
                f"text built over and over): keep loops short and avoid rebuilding long text")


_BUDGET: ContextVar[Budget | None] = ContextVar("itsm_template_budget", default=None)


def charge(steps: int) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.charge(steps)


def size_steps(value: Any) -> int:
    """What reading `value` once costs: a step per 64 characters of text, a step per item of a collection."""
    if isinstance(value, str):
        return len(value) // CHARS_PER_STEP
    if isinstance(value, list | tuple | dict | set | frozenset | range):
        return len(value)
    return 0


def render_bounded(stream: Iterator[str], limit: int, marker: str | None) -> str:
    """Read a template's output stream (its root render function, not started yet) under a fresh budget;
    output beyond `limit` bytes (UTF-8) is cut to end in `marker`, or refused when `marker` is None. The
    budget bounds the output on its way (every `{{ }}` and every piece of literal text in a loop pays for
    its size), so the stream is read whole and measured once. Deep recursion is refused like any excess."""
    token = _BUDGET.set(Budget())
    try:
        text = "".join(stream)
    except RecursionError as exc:
        raise TemplateLimitExceeded("the template calls itself too deeply (a macro that calls itself?)") from exc
    finally:
        _BUDGET.reset(token)
    if len(text) <= limit // 4 or len(text.encode()) <= limit:
        return text
    if marker is None:
        raise TemplateOutputTooLong(f"the template's output is longer than {limit:,} bytes")
    return cut(text, limit, marker)


def cut(text: str, limit: int, marker: str) -> str:
    """`text` shortened so that it and `marker` take at most `limit` bytes, never splitting a character."""
    room = max(0, limit - len(marker.encode()))
    return text.encode()[:room].decode("utf-8", "ignore") + marker


# -- bodies ---------------------------------------------------------------------------------------------


class BodyCosts(NodeTransformer):
    """Makes every loop iteration, macro call and `{% call %}` body pay for the body it runs (its size in
    template nodes, counted here once) as it starts, recursive loops included; a loop's `if` pays per item."""

    def visit_For(self, node: nodes.For) -> nodes.For:  # noqa: N802 - Jinja's visitor naming
        self.generic_visit(node)
        node.body = [_charge_statement(node.body), *node.body]
        if node.test is not None:
            node.test = nodes.And(_charge_expression(_size_of([node.test]), nodes.Const(True)), node.test)
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Macro:  # noqa: N802
        self.generic_visit(node)
        node.body = [_charge_statement(node.body, MACRO_CALL_STEPS), *node.body]
        return node

    def visit_CallBlock(self, node: nodes.CallBlock) -> nodes.CallBlock:  # noqa: N802
        self.generic_visit(node)
        node.body = [_charge_statement(node.body, MACRO_CALL_STEPS), *node.body]
        return node


def _size_of(body: list[nodes.Node]) -> int:
    """Nodes of the body, literal text counting a node per 64 characters as output does."""
    size = 0
    for child in body:
        size += 1
        for node in child.find_all(nodes.Node):
            size += 1 + (len(node.data) // CHARS_PER_STEP if isinstance(node, nodes.TemplateData) else 0)
    return size


def _charge_expression(steps: int, value: nodes.Expr) -> nodes.Filter:
    return nodes.Filter(value, CHARGE_FILTER, [nodes.Const(steps)], [], None, None, lineno=value.lineno)


def _charge_statement(body: list[nodes.Node], extra: int = 0) -> nodes.ExprStmt:
    lineno = body[0].lineno if body else 1
    return nodes.ExprStmt(_charge_expression(1 + extra + _size_of(body), nodes.Const(None, lineno=lineno)),
                          lineno=lineno)


@pass_context  # a filter that takes the context is never folded into a constant when the template compiles
def charge_filter(context: Any, value: Any, steps: int) -> Any:
    charge(steps)
    return value


# -- sizes of what one operation builds -------------------------------------------------------------------


def check_width(what: str, width: Any, limit: int = MAX_REPEATED) -> int:
    if isinstance(width, int) and not isinstance(width, bool) and width > limit:
        raise TemplateLimitExceeded(f"{what} {width:,} is larger than templates allow ({limit:,})")
    return width if isinstance(width, int) else 0


def check_built(what: str, size: int) -> None:
    if size > MAX_BUILT:
        raise TemplateLimitExceeded(f"{what} would build {size:,} characters; templates allow {MAX_BUILT:,}")
    charge(size // CHARS_PER_STEP)


_PRINTF = re.compile(r"%%|%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def printf_widths(text: str) -> list[int | None]:
    """The widths and precisions a printf-style format asks for (None for `*`, taken from the values)."""
    widths: list[int | None] = []
    for match in _PRINTF.finditer(text):
        for group in match.groups():
            if group is not None:
                widths.append(None if group == "*" else int(group))
    return widths


def format_widths(text: str) -> list[int | None]:
    """The numbers in the format specs of a `str.format` template (None for a nested `{...}` spec)."""
    widths: list[int | None] = []
    for _, field, spec, _ in Formatter().parse(text):
        if field is not None and spec:
            if "{" in spec:
                widths.append(None)
            widths.extend(int(d) for d in _DIGITS.findall(spec))
    return widths


def check_format(kind: str, text: str) -> None:
    try:
        widths = printf_widths(text) if kind == "%" else format_widths(text)
    except ValueError:
        return  # not a valid format: Python says so when it is used
    for width in widths:
        if width is None:
            raise TemplateLimitExceeded("format widths taken from the values ('*' or nested '{}') are not "
                                        "allowed in templates: write the width")
        check_width("a format width of", width)
    charge((len(text) + sum(w for w in widths if w)) // CHARS_PER_STEP)


# -- filters, globals and methods -------------------------------------------------------------------------


def _read(value: Any, *args: Any, **kwargs: Any) -> Any:
    charge(1 + size_steps(value))
    return value


def _center(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> Any:
    charge(1 + size_steps(value) + check_width("a width of", width) // CHARS_PER_STEP)
    return value


def _indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> Any:
    text = str(value)
    pad = len(width) if isinstance(width, str) else check_width("an indent of", width)
    check_width("an indent of", pad)
    check_built("this indent", len(text) + (text.count("\n") + 1) * pad)
    return value


def _wordwrap(value: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None,
              *args: Any, **kwargs: Any) -> Any:
    text = str(value)
    width = max(1, check_width("a wrap width of", width))
    lines = len(text) // width + text.count("\n") + 1
    check_built("this wordwrap", len(text) + lines * len(str(wrapstring or "\n")))
    charge(len(text) * (1 + 8 // width))  # textwrap: a step a character, ten at width 1
    return value


def replaced_size(text: str, old: Any, new: Any, count: Any = None) -> int:
    old, new = str(old), str(new)
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    return len(text) + times * (len(new) - len(old))


def _replace(value: Any, old: Any = "", new: Any = "", count: Any = None, *args: Any, **kwargs: Any) -> Any:
    text = str(value)
    check_built("this replace", replaced_size(text, old, new, count))
    return value


def joined(items: Any, separator: Any) -> list[Any]:
    """The items to join, as a list (a generator is read once here), after checking what joining builds."""
    listed = items if isinstance(items, list | tuple) else list(items)
    charge(len(listed))
    check_built("this join", max(0, len(listed) - 1) * len(str(separator)))
    return listed  # type: ignore[return-value]


def _join(value: Any, d: Any = "", *args: Any, **kwargs: Any) -> Any:
    return joined(value, d)


def _format(value: Any, *args: Any, **kwargs: Any) -> Any:
    check_format("%", str(value))
    return value


def _batch(value: Any, linecount: Any = 1, *args: Any, **kwargs: Any) -> Any:
    charge(1 + size_steps(value) + check_width("a batch of", linecount))
    return value


def _slice(value: Any, slices: Any = 1, *args: Any, **kwargs: Any) -> Any:
    charge(1 + size_steps(value) + check_width("a slice count of", slices))
    return value


def _tojson(value: Any, indent: Any = None, *args: Any, **kwargs: Any) -> Any:
    check_width("a JSON indent of", indent, MAX_JSON_INDENT)
    charge(1 + size_steps(value))
    return value


FILTER_GUARDS: dict[str, Callable[..., Any]] = {
    "center": _center, "indent": _indent, "wordwrap": _wordwrap, "replace": _replace, "join": _join,
    "format": _format, "batch": _batch, "slice": _slice, "tojson": _tojson}


def guarded_filters(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter charged for what it reads; those that can build more than they read checked first."""
    return {name: _guarded(func, FILTER_GUARDS.get(name, _read)) for name, func in filters.items()}


def _guarded(func: Callable[..., Any], guard: Callable[..., Any]) -> Callable[..., Any]:
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # context or environment first

    @wraps(func)  # keeps `jinja_pass_arg`, which tells the compiler what to pass first
    def checked(*args: Any, **kwargs: Any) -> Any:
        if len(args) > offset:
            value = guard(*args[offset:], **kwargs)
            if value is not args[offset]:
                args = (*args[:offset], value, *args[offset + 1:])
        return func(*args, **kwargs)

    return checked


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 - Jinja's names
    check_width("lipsum of", n, 100)
    check_width("lipsum paragraphs of", max, 1000)
    charge(n * max // 8)
    return generate_lorem_ipsum(n, html, min, max)


class CountedNamespace(Namespace):
    """`namespace()`, whose attributes cost what they hold when set: `{% set ns.text = ns.text ~ more %}` in a
    loop copies ever longer text."""

    def __setitem__(self, name: str, value: Any) -> None:
        charge(1 + size_steps(value))
        super().__setitem__(name, value)


_PADDING = frozenset({"ljust", "rjust", "center", "zfill"})


def checked_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Charge a call from a template and check the string methods that build more than they read; returns
    the arguments to call with (an iterable given to `str.join` is read into a list here)."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str | list | dict | set):
        charge(1)
        return args
    name = getattr(obj, "__name__", "")
    # a string method reads the string; a list or dict method (append, get) costs what it is given
    charge(1 + (size_steps(owner) if isinstance(owner, str) else 0) + sum(size_steps(a) for a in args))
    if isinstance(owner, str):
        if name in _PADDING and args:
            charge(check_width("a width of", args[0]) // CHARS_PER_STEP)
        elif name == "expandtabs":
            tab = check_width("a tab size of", args[0] if args else kwargs.get("tabsize", 8))
            check_built("this expandtabs", len(owner) + owner.count("\t") * tab)
        elif name == "replace" and len(args) >= 2:
            check_built("this replace", replaced_size(owner, args[0], args[1], args[2] if len(args) > 2 else None))
        elif name == "join" and args:
            return (joined(args[0], owner), *args[1:])
    return args
