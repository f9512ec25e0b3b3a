"""Checks at load for template constructs that can run away, found by walking Jinja's syntax tree: loops
nested deep, `range()` over data or large bounds, recursion, repetition and powers that explode, widths of
padding filters and formats, and `{% include %}`-like tags (a pack has no template files). Each finding
names the template's line (and the column, when the construct can be found on it) for an error line of
SPEC 3.2; the bounds on rendering (`template_limits`) still stop whatever gets past these checks.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from .template_limits import MAX_JSON_INDENT, MAX_POWER_BITS, format_widths, printf_widths
from .templates import environment

MAX_LOOP_DEPTH = 2  # a loop inside a loop; a third level multiplies the work once more
MAX_RANGE = 1000  # items of a literal range()
MAX_REPEAT = 1000  # characters (items) of a literal repetition such as '-' * 72
MAX_WIDTH = 1000  # literal widths of padding filters, string methods and formats
MAX_EXPONENT = 64
WIDTH_FILTERS = {"center": "width", "indent": "width", "wordwrap": "width", "batch": "linecount",
                 "slice": "slices"}
WIDTH_METHODS = {"ljust": "width", "rjust": "width", "center": "width", "zfill": "width",
                 "expandtabs": "tabsize"}
NO_FILES: dict[type[nodes.Node], tuple[str, str, str]] = {
    nodes.Include: ("include", "include", "there are no template files to include: write the text here"),
    nodes.Import: ("import", "import", "there are no template files to import: define the macros in this template"),
    nodes.FromImport: ("from", "from ... import", "there are no template files to import: define the macros in "
                                                  "this template"),
    nodes.Extends: ("extends", "extends", "there are no template files to extend: write the whole text here"),
}
_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


@dataclass(frozen=True)
class Hazard:
    """A problem of a template: its 1-based line, and column in that line when known."""

    line: int
    column: int | None
    message: str


@lru_cache(maxsize=4096)
def template_hazards(text: str) -> tuple[Hazard, ...]:
    """The syntax error of `text`, or every construct in it that can run away, in template order."""
    try:
        tree = environment().parse(text)
    except TemplateSyntaxError as exc:
        return (Hazard(exc.lineno or 1, None, f"template syntax error: {exc.message}"),)
    walker = _Walker(text)
    walker.walk(tree, 0, None)
    walker.check_recursion()
    return tuple(sorted(walker.hazards, key=lambda h: (h.line, h.column or 0)))


class _Walker:
    def __init__(self, text: str):
        self.lines = text.split("\n")
        starts = [0]
        for line in self.lines[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        self.starts = starts
        self.code = [m.span() for m in _CODE.finditer(text)]
        self.seen: Counter[tuple[int, str]] = Counter()
        self.hazards: list[Hazard] = []
        self.macros: dict[str, int] = {}  # name -> line of its definition
        self.calls: dict[str, list[tuple[str, int, int | None]]] = {}  # macro -> (callee, line, column)

    # -- positions -------------------------------------------------------------------------------------

    def mark(self, line: int, needle: str) -> int | None:
        """The column of the next occurrence of `needle` (a regex) inside `{{ }}`/`{% %}` on `line`."""
        occurrence = self.seen[(line, needle)]
        self.seen[(line, needle)] += 1
        if not 1 <= line <= len(self.lines):
            return None
        start = self.starts[line - 1]
        found = [m.start() for m in re.finditer(needle, self.lines[line - 1])
                 if any(a <= start + m.start() < b for a, b in self.code)]
        if not found:
            return None
        return found[min(occurrence, len(found) - 1)] + 1

    def report(self, node: nodes.Node, column: int | None, message: str) -> None:
        self.hazards.append(Hazard(node.lineno, column, message))

    # -- the walk --------------------------------------------------------------------------------------

    def walk(self, node: nodes.Node, loops: int, macro: str | None) -> None:
        if isinstance(node, nodes.For):
            column = self.mark(node.lineno, r"\bfor\b")
            if node.recursive:
                self.report(node, column, "recursive loops are not allowed in templates: each level multiplies "
                                          "the work; loop over the items you need")
            if loops + 1 == MAX_LOOP_DEPTH + 1:
                self.report(node, column, f"loops nest {loops + 1} deep here; templates allow {MAX_LOOP_DEPTH} "
                                          f"(each level multiplies the work): loop over fewer levels")
            for child in (node.target, node.iter):
                self.walk(child, loops, macro)
            for child in (*([node.test] if node.test is not None else []), *node.body):
                self.walk(child, loops + 1, macro)
            for child in node.else_:
                self.walk(child, loops, macro)
            return
        if isinstance(node, nodes.Macro):
            self.macros.setdefault(node.name, node.lineno)
            self.calls.setdefault(node.name, [])
            self.mark(node.lineno, _word(node.name))
            for child in node.iter_child_nodes():
                self.walk(child, 0, node.name)
            return
        kind = NO_FILES.get(type(node))
        if kind is not None:
            word, tag, advice = kind
            self.report(node, self.mark(node.lineno, _word(word)),
                        f"{{% {tag} %}} is not available in pack templates: {advice}")
        for child in node.iter_child_nodes():
            self.walk(child, loops, macro)
        if isinstance(node, nodes.Call):
            self.call(node, macro)
        elif isinstance(node, nodes.Filter):
            self.filter(node)
        elif isinstance(node, nodes.Mul):
            self.repetition(node, self.mark(node.lineno, r"(?<!\*)\*(?!\*)"))
        elif isinstance(node, nodes.Pow):
            self.power(node, self.mark(node.lineno, r"\*\*"))
        elif isinstance(node, nodes.Mod) and isinstance(_const(node.left), str):
            self.format(node, "%", node.left.value)  # type: ignore[attr-defined]

    def call(self, node: nodes.Call, macro: str | None) -> None:
        callee = node.node
        if isinstance(callee, nodes.Name):
            column = self.mark(node.lineno, _word(callee.name))
            if callee.name == "range":
                self.range(node, column)
            elif macro is not None:
                self.calls[macro].append((callee.name, node.lineno, column))
        elif isinstance(callee, nodes.Getattr):
            column = self.mark(node.lineno, _word(callee.attr))
            if callee.attr in WIDTH_METHODS:
                self.width(node, column, f".{callee.attr}()", _argument(node, 0, WIDTH_METHODS[callee.attr]))
            elif callee.attr in ("format", "format_map") and isinstance(_const(callee.node), str):
                self.format(node, "{}", callee.node.value)  # type: ignore[attr-defined]

    def range(self, node: nodes.Call, column: int | None) -> None:
        bounds = [_number(arg) for arg in node.args]
        if node.kwargs or node.dyn_args or node.dyn_kwargs or not bounds or any(b is None for b in bounds):
            self.report(node, column, f"range() with bounds taken from the data can run away: write the bounds "
                                      f"(at most {MAX_RANGE:,} items), or loop over the list itself")
            return
        if not all(isinstance(b, int) for b in bounds):
            if any(isinstance(b, float) and not math.isfinite(b) for b in bounds):
                self.report(node, column, f"range() without end; templates allow {MAX_RANGE:,} items")
            return  # range(0.5), a TypeError when it renders
        size = _range_size(*(int(b) for b in bounds if b is not None))
        if size is not None and size > MAX_RANGE:
            self.report(node, column, f"range() of {_count(size)} items; templates allow {MAX_RANGE:,}")

    def filter(self, node: nodes.Filter) -> None:
        column = self.mark(node.lineno, _word(node.name))
        if node.name in WIDTH_FILTERS:
            self.width(node, column, f"{node.name}()", _argument(node, 0, WIDTH_FILTERS[node.name]))
        elif node.name == "tojson":
            indent = _argument(node, 0, "indent")
            value = _number(indent) if indent is not None else 0
            if value is None or value > MAX_JSON_INDENT:
                self.report(node, column, f"tojson() needs a literal indent of at most {MAX_JSON_INDENT}")
        elif node.name == "format" and isinstance(_const(node.node), str):
            self.format(node, "%", node.node.value)  # type: ignore[union-attr]

    def width(self, node: nodes.Node, column: int | None, what: str, argument: nodes.Expr | None) -> None:
        if argument is None:
            return  # the filter's default width
        literal = _const(argument)
        size = len(literal) if isinstance(literal, str) else _number(argument)
        if size is None:
            self.report(node, column, f"{what} with a width taken from the data can blow up the output: write "
                                      f"the width (at most {MAX_WIDTH:,})")
        elif size > MAX_WIDTH:
            self.report(node, column, f"{what} with a width of {_count(size)} can blow up the output; templates "
                                      f"allow {MAX_WIDTH:,}")

    def format(self, node: nodes.Node, kind: str, text: str) -> None:
        try:
            widths = printf_widths(text) if kind == "%" else format_widths(text)
        except ValueError:
            return
        column = self.mark(node.lineno, re.escape(text.split("\n")[0])) if text.strip() else None
        if any(w is None for w in widths):
            self.report(node, column, "format widths taken from the values ('*' or nested '{}') can blow up "
                                      f"the output: write the width (at most {MAX_WIDTH:,})")
        elif any(w is not None and w > MAX_WIDTH for w in widths):
            widest = max(w for w in widths if w is not None)
            self.report(node, column, f"a format width of {widest:,} can blow up the output; templates allow "
                                      f"{MAX_WIDTH:,}")

    def repetition(self, node: nodes.Mul, column: int | None) -> None:
        for text, count in ((node.left, node.right), (node.right, node.left)):
            length = _length(text)
            if length is None or (length > MAX_REPEAT and isinstance(text, nodes.Mul)):
                continue  # not text, or a repetition already reported
            times = _number(count)
            if times is None and _length(count) is None:
                self.report(node, column, f"repeating text a number of times taken from the data can run away: "
                                          f"write the count (at most {MAX_REPEAT:,} characters in all)")
            elif times is not None and length * times > MAX_REPEAT:
                self.report(node, column, f"this repetition makes {_count(length * times)} characters (items); "
                                          f"templates allow {MAX_REPEAT:,}")
            return

    def power(self, node: nodes.Pow, column: int | None) -> None:
        exponent = _number(node.right)
        if exponent is None:
            self.report(node, column, "'**' with an exponent taken from the data can make numbers of thousands "
                                      "of digits: write the exponent")
            return
        base = _number(node.left)
        if exponent > MAX_EXPONENT:
            self.report(node, column, f"an exponent of {_count(exponent)} makes numbers of thousands of digits; "
                                      f"templates allow {MAX_EXPONENT}")
        elif isinstance(base, int) and abs(base) > 1 and exponent * abs(base).bit_length() > MAX_POWER_BITS:
            self.report(node, column, f"this power has more than {MAX_POWER_BITS} bits; templates allow "
                                      f"{MAX_POWER_BITS}")

    def check_recursion(self) -> None:
        """One error per cycle of macros calling each other, at the first call that closes it."""
        reported: set[str] = set()
        for name in sorted(self.macros, key=lambda n: self.macros[n]):
            if name in reported:
                continue
            for callee, line, column in self.calls.get(name, []):
                path = self._path(callee, name)
                if path is None:
                    continue
                cycle = [name, *path]
                reported.update(cycle)
                if callee == name:
                    message = f"macro '{name}' calls itself"
                else:
                    message = f"macro '{name}' calls '{callee}', which calls '{name}' again"
                    if len(path) > 2:
                        message = f"macro '{name}' calls '{callee}', which leads back to '{name}'"
                self.hazards.append(Hazard(line, column, f"{message}: recursion is not allowed in templates "
                                                         f"(it can run without end)"))
                break

    def _path(self, start: str, goal: str) -> list[str] | None:
        """The macros from `start` to `goal` along calls (`start` first, `goal` last), or None."""
        stack, seen = [(start, [start])], {start}
        while stack:
            current, path = stack.pop()
            if current == goal:
                return path
            for callee, _, _ in self.calls.get(current, []):
                if callee in self.macros and callee not in seen:
                    seen.add(callee)
                    stack.append((callee, [*path, callee]))
        return None


def _range_size(*bounds: int) -> int | None:
    """len(range(*bounds)) for any integers (len() stops at sys.maxsize); None for a step of 0 or too many
    arguments, which Jinja reports when it renders."""
    if len(bounds) > 3:
        return None
    start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (*bounds, 1)[:3]
    if step == 0:
        return None
    return max(0, (stop - start + step - 1) // step) if step > 0 else max(0, (start - stop - step - 1) // -step)


def _count(number: float) -> str:
    """`12,345` for a message; literals may be floats, or infinite (`1e400`)."""
    if isinstance(number, float) and not math.isfinite(number):
        return "endless"
    return f"{int(number):,}" if number == int(number) else f"{number:,}"


def _word(name: str) -> str:
    return rf"\b{re.escape(name)}\b"


def _argument(node: nodes.Call | nodes.Filter, index: int, name: str) -> nodes.Expr | None:
    if len(node.args) > index:
        return node.args[index]
    for keyword in node.kwargs:
        if keyword.key == name:
            return keyword.value
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        return node.dyn_args or node.dyn_kwargs  # unknown: treated as taken from the data
    return None


def _const(node: Any) -> Any:
    return node.value if isinstance(node, nodes.Const) else None


def _number(node: Any) -> float | None:
    """The value of a numeric literal (arithmetic of literals included), or None."""
    if isinstance(node, nodes.Const):
        value = node.value
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if isinstance(node, nodes.Neg | nodes.Pos):
        inner = _number(node.node)
        return None if inner is None else (-inner if isinstance(node, nodes.Neg) else inner)
    if isinstance(node, nodes.Add | nodes.Sub | nodes.Mul):
        left, right = _number(node.left), _number(node.right)
        if left is None or right is None:
            return None
        return left + right if isinstance(node, nodes.Add) else left - right if isinstance(node, nodes.Sub) \
            else left * right
    return None


def _length(node: Any) -> int | None:
    """The length of literal text or a literal list (repeated or joined literally), or None."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str | list | tuple):
        return len(node.value)
    if isinstance(node, nodes.List | nodes.Tuple):
        return len(node.items)
    if isinstance(node, nodes.Concat):
        lengths = [_length(n) for n in node.nodes]
        return None if any(n is None for n in lengths) else sum(n for n in lengths if n is not None)
    if isinstance(node, nodes.Mul):
        for text, count in ((node.left, node.right), (node.right, node.left)):
            length, times = _length(text), _number(count)
            if length is not None and times is not None:
                size = length * times
                return int(size) if math.isfinite(size) else sys.maxsize
    return None
