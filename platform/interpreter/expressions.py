"""Guard and condition expressions: a small, safe, Python-like language compiled once at load.

Sources are parsed with `ast` (mode 'eval'), checked against a whitelist of node types and turned into
nested closures, so evaluation never walks a tree, never calls `eval` and never looks up attributes on
Python objects: names resolve by walking plain mappings. Pure: no I/O beyond a log line per failure.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import inspect
import io
import keyword
import logging
import operator
import re
import tokenize
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .expression_values import (
    _ARITHMETIC,
    _COMPARISONS,
    DEFAULT_FUNCTIONS,
    _EvalFailure,
    _is_number,
    _negate,
)

MAX_LENGTH = 2000
MAX_DEPTH = 40
MAX_LITERAL = 10**15
MAX_LITERAL_DIGITS = 30

_log = logging.getLogger("itsm.expressions")

Run = Callable[[Mapping[str, Any]], Any]


class ExpressionError(Exception):
    """A problem in an expression's source; `offset` is the 0-based character where it was found."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


_REFUSED_OPERATORS: dict[type[ast.AST], str] = {
    ast.Pow: "'**' is not allowed", ast.FloorDiv: "'//' is not allowed: use /",
    ast.BitAnd: "'&' is not allowed: use and", ast.BitOr: "'|' is not allowed: use or",
    ast.BitXor: "'^' is not allowed", ast.LShift: "'<<' is not allowed", ast.RShift: "'>>' is not allowed",
    ast.MatMult: "'@' is not allowed", ast.UAdd: "unary '+' is not allowed",
    ast.Invert: "'~' is not allowed: use not",
}
# What follows "'<the offending source>' is not allowed: " for each construct outside the language.
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Subscript: "no subscripts", ast.Lambda: "no lambdas", ast.ListComp: "no comprehensions",
    ast.SetComp: "no comprehensions", ast.DictComp: "no comprehensions", ast.GeneratorExp: "no comprehensions",
    ast.JoinedStr: "no f-strings (join text with +)", ast.NamedExpr: "use == to compare",
    ast.IfExp: "no conditional expressions", ast.Dict: "no dict literals", ast.Set: "no set literals",
    ast.Tuple: "use a list [...]", ast.Starred: "no unpacking", ast.Await: "no await", ast.Yield: "no yield",
    ast.YieldFrom: "no yield",
}
_WORDS_FOR = {"True": "true", "False": "false", "None": "null"}
_LITERAL_NAMES = {"true": True, "false": False, "null": None}
_UNDERSCORE = "names may not start with '_'"
QUOTED = 40  # characters of the offending source quoted in a message
_TOKEN = re.compile(r"\s*(\w+|\S)")
_DANGLING = re.compile(r"(?:^|[\s)\]'\"])(and|or|not|in|==|!=|<=|>=|<|>|\+|-|\*|/|%)\s*$")


# -- public model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameInfo:
    """What the compiler knows about one name; `choices` lets it check literals compared with it."""

    choices: tuple[str, ...] | None = None
    kind: str | None = None  # "number", "text" or "boolean" when known: literals of another kind are refused;
    #                          "list" (of ids): only `'x' in name` and `'x' not in name` compare it with a literal


@dataclass(frozen=True)
class Scope:
    """The (dotted) names an expression may read and the functions it may call."""

    names: Mapping[str, NameInfo]
    functions: Mapping[str, Callable[..., Any]] = field(default_factory=lambda: DEFAULT_FUNCTIONS)
    open_prefixes: tuple[str, ...] = ()  # `payload`: any `payload.a.b` is allowed (intake payloads are free-form)
    any_field: bool = False  # the form did not load: its error is reported, its field names are not doubted

    def knows(self, dotted: str) -> bool:
        return (dotted in self.names or dotted.split(".", 1)[0] in self.open_prefixes
                or (self.any_field and "." not in dotted))


def _nothing(context: Mapping[str, Any]) -> Any:
    return None


@dataclass(frozen=True)
class Expression:
    """A compiled expression; evaluating it never raises, failures are logged with `where`."""

    source: str
    names: frozenset[str]
    where: str = ""
    _run: Run = field(default=_nothing, compare=False, repr=False, kw_only=True)

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        try:
            return self._run(context)
        except Exception as exc:
            self._log_failure(exc)
            return None

    def test(self, context: Mapping[str, Any]) -> bool:
        try:
            return bool(self._run(context))
        except Exception as exc:
            self._log_failure(exc)
            return False

    def _log_failure(self, exc: Exception) -> None:
        with contextlib.suppress(Exception):  # a log line must never turn a failed guard into a crash
            reason = str(exc) or type(exc).__name__
            _log.warning("%s: expression %r failed: %s", self.where or "<expression>", self.source, reason)


# -- compiler -------------------------------------------------------------------------------------------

_VARIES: Any = object()


class _Code(NamedTuple):
    run: Run
    const: Any = _VARIES  # the value, when it is known at compile time


def _constant(value: Any) -> _Code:
    if isinstance(value, list):
        items = tuple(value)
        return _Code(lambda c: list(items), value)
    return _Code(lambda c: value, value)


def _lookup(parts: list[str]) -> Run:
    first, rest = parts[0], parts[1:]
    if not rest:
        return lambda c: c.get(first)

    def run(c: Mapping[str, Any]) -> Any:
        value = c.get(first)
        for key in rest:
            if type(value) is not dict and not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    return run


def _kind(const: Any) -> str | None:
    if const is _VARIES:
        return None
    if _is_number(const):
        return "number"
    return "string" if isinstance(const, str) else "other"


def _hint(word: str, candidates: Any) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _quoted(text: str) -> str:
    """Source text quoted for a message: 'x', or "x" when it holds single quotes; clipped to a few words."""
    text = " ".join(text.split())
    text = text if len(text) <= QUOTED else text[: QUOTED - 3] + "..."
    return f'"{text}"' if "'" in text and '"' not in text else f"'{text}'"


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


class _Compiler:
    def __init__(self, text: str, shift: int, scope: Scope) -> None:
        self.text = text
        self.encoded = text.encode("utf-8", "surrogatepass")
        self.shift = shift
        self.scope = scope
        self.names: set[str] = set()
        self.handlers: dict[type[ast.AST], Callable[[Any], _Code]] = {
            ast.Constant: self.literal, ast.Name: self.name, ast.Attribute: self.name, ast.List: self.literal_list,
            ast.UnaryOp: self.unary, ast.BinOp: self.binary, ast.BoolOp: self.boolean,
            ast.Compare: self.comparison, ast.Call: self.call}

    def error(self, message: str, where: ast.AST | int) -> ExpressionError:
        """`where` is a node or a character offset into the parsed text."""
        if isinstance(where, ast.AST):
            where = self.chars(getattr(where, "col_offset", 0) or 0)
        return ExpressionError(message, self.shift + where)

    def quote(self, node: ast.AST) -> str:
        """The source of `node`, quoted, for a message that names what is wrong."""
        return _quoted(ast.get_source_segment(self.text, node) or "")

    def refuse(self, node: ast.AST, reason: str = "", at: ast.AST | int | None = None) -> ExpressionError:
        """`'<node's source>' is not allowed: <reason>`."""
        return self.error(f"{self.quote(node)} is not allowed" + (f": {reason}" if reason else ""),
                          node if at is None else at)

    def chars(self, col: int) -> int:
        """ast columns count UTF-8 bytes; offsets count characters."""
        return len(self.encoded[:col].decode("utf-8", "replace"))

    def check_depth(self, root: ast.expr) -> None:
        stack: list[tuple[ast.AST, int]] = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise self.error(f"expression is nested deeper than {MAX_DEPTH} levels", node)
            for child in ast.iter_child_nodes(node):
                stack.append((child, depth + 1 if isinstance(child, ast.expr) else depth))

    def compile(self, node: ast.expr) -> _Code:
        handler = self.handlers.get(type(node))
        if handler is None:
            raise self.refuse(node, _REFUSED_NODES.get(type(node), ""))
        return handler(node)

    def literal_list(self, node: ast.List) -> _Code:
        items = []
        for elt in node.elts:
            code = self.compile(elt)
            if code.const is _VARIES or isinstance(code.const, list):
                raise self.error(f"{self.quote(elt)} is not allowed in a list: lists hold only literals", elt)
            items.append(code.const)
        return _constant(items)

    def literal(self, node: ast.Constant) -> _Code:
        value = node.value
        if value is None or isinstance(value, bool):
            written = ast.get_source_segment(self.text, node) or ""
            raise self.refuse(node, f"use {_WORDS_FOR.get(written, 'true, false or null')}")
        if isinstance(value, int | float) and not abs(value) <= MAX_LITERAL:
            raise self.error(f"number {self.quote(node)} is too large", node)
        if isinstance(value, int | float | str):
            return _constant(value)
        reason = {bytes: "no bytes literals", complex: "no complex numbers"}
        raise self.refuse(node, reason.get(type(value), ""))

    def refuse_underscores(self, node: ast.expr) -> ast.expr:
        """Check every part of `a.b.c` (or of `x().b`); return what the attribute chain starts from."""
        while isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise self.error(f"'{node.attr}' is not allowed: {_UNDERSCORE}",
                                 self.chars(node.end_col_offset or 0) - len(node.attr))
            node = node.value
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise self.error(f"'{node.id}' is not allowed: {_UNDERSCORE}", node)
        return node

    def name(self, node: ast.Name | ast.Attribute) -> _Code:
        if not isinstance(self.refuse_underscores(node), ast.Name):
            raise self.refuse(node, "attributes only of declared names (such as requester.vip)")
        if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
            return _constant(_LITERAL_NAMES[node.id])
        dotted = _dotted(node) or ""
        if not self.scope.knows(dotted):
            quoted = any(info.choices and dotted in info.choices for info in self.scope.names.values())
            hint = (f" (to compare with the value '{dotted}', quote it)" if quoted
                    else _hint(dotted, [*self.scope.names, *self.scope.open_prefixes]))
            raise self.error(f"unknown name '{dotted}'{hint}", node)
        self.names.add(dotted)
        return _Code(_lookup(dotted.split(".")))

    def unary(self, node: ast.UnaryOp) -> _Code:
        if type(node.op) in _REFUSED_OPERATORS:
            raise self.error(_REFUSED_OPERATORS[type(node.op)], node)
        operand = self.compile(node.operand)
        inner = operand.run
        if isinstance(node.op, ast.Not):
            return _Code(lambda c: not inner(c))
        if operand.const is not _VARIES:
            if _kind(operand.const) != "number":
                raise self.error(f"'-' needs a number, not {self.quote(node.operand)}", node)
            return _constant(-operand.const)
        return _Code(lambda c: _negate(inner(c)))

    def binary(self, node: ast.BinOp) -> _Code:
        if type(node.op) in _REFUSED_OPERATORS:
            raise self.error(_REFUSED_OPERATORS[type(node.op)], self.operator_at(node))
        symbol, apply = _ARITHMETIC[type(node.op)]
        if symbol == "*" and any(isinstance(n, ast.Constant) and isinstance(n.value, str)
                                 for n in (node.left, node.right)):
            raise self.error(f"{self.quote(node)} is not allowed: no string repetition", self.operator_at(node))
        left, right = self.compile(node.left), self.compile(node.right)
        kinds = {_kind(left.const), _kind(right.const)}
        if symbol == "*" and "string" in kinds:
            raise self.error(f"{self.quote(node)} is not allowed: no string repetition", self.operator_at(node))
        if symbol == "*" and (isinstance(left.const, list) or isinstance(right.const, list)):
            raise self.error(f"{self.quote(node)} is not allowed: no list repetition", self.operator_at(node))
        if symbol == "%" and _kind(left.const) == "string":
            raise self.error(f"{self.quote(node)} is not allowed: no '%' formatting of strings",
                             self.operator_at(node))
        if "other" in kinds or ("string" in kinds and (symbol != "+" or "number" in kinds)):
            needs = "two numbers or two strings" if symbol == "+" else "numbers"
            raise self.error(f"'{symbol}' needs {needs} in {self.quote(node)}", self.operator_at(node))
        if symbol in "/%" and _kind(right.const) == "number" and right.const == 0:
            raise self.error(f"{self.quote(node)} divides by zero", self.operator_at(node))
        if None not in kinds:
            try:
                return _constant(apply(left.const, right.const))
            except (_EvalFailure, ArithmeticError) as exc:
                raise self.error(f"{self.quote(node)} fails: {exc}", node) from None
        lrun, rrun = left.run, right.run
        return _Code(lambda c: apply(lrun(c), rrun(c)))

    def operator_at(self, node: ast.BinOp) -> int:
        """The offset of the operator between the operands (past closing parentheses and blanks)."""
        return self.after(node.left)

    def after(self, node: ast.expr) -> int:
        """The offset of the first token after `node` (past closing parentheses and blanks)."""
        start = self.chars(node.end_col_offset or 0)
        while start < len(self.text) and self.text[start] in " )\t":
            start += 1
        return start

    def boolean(self, node: ast.BoolOp) -> _Code:
        runs = [self.compile(value).run for value in node.values]
        if len(runs) == 2:  # the common case, without a generator
            a, b = runs
            if isinstance(node.op, ast.And):
                return _Code(lambda c: bool(a(c)) and bool(b(c)))
            return _Code(lambda c: bool(a(c)) or bool(b(c)))
        combine = all if isinstance(node.op, ast.And) else any  # both stop early and give a boolean
        return _Code(lambda c: combine(run(c) for run in runs))

    def comparison(self, node: ast.Compare) -> _Code:
        for i, op in enumerate(node.ops):
            if isinstance(op, ast.Is | ast.IsNot):
                left = [node.left, *node.comparators][i]
                written, instead = ("is not", "!=") if isinstance(op, ast.IsNot) else ("is", "==")
                raise self.error(f"'{written}' is not allowed: use {instead}", self.after(left))
        nodes = [node.left, *node.comparators]
        codes = [self.compile(nodes[0])]
        steps: list[tuple[Callable[[Any, Any], bool], Run]] = []
        for i, op in enumerate(node.ops):
            codes.append(self.compile(nodes[i + 1]))
            self.check_choices(nodes[i], op, nodes[i + 1])
            compare = _COMPARISONS[type(op)]
            if isinstance(op, ast.Eq | ast.NotEq) and None in (codes[i].const, codes[i + 1].const):
                compare = operator.eq if isinstance(op, ast.Eq) else operator.ne  # `x == null` is plain
            steps.append((compare, codes[i + 1].run))
        first = codes[0].run
        if len(steps) == 1:
            return _Code(self.single(first, node.ops[0], steps[0][0], codes[1]))

        def run(c: Mapping[str, Any]) -> bool:
            a = first(c)
            for compare, next_run in steps:
                b = next_run(c)
                if not compare(a, b):
                    return False
                a = b
            return True

        return _Code(run)

    @staticmethod
    def single(left: Run, op: ast.cmpop, compare: Callable[[Any, Any], bool], right: _Code) -> Run:
        """One comparison, with fast paths for the common `name == 'x'` and `name in ['x', 'y']`."""
        k = right.const
        if isinstance(op, ast.Eq) and isinstance(k, str | int | float):
            return lambda c: bool(left(c) == k)  # null == k is false already
        if isinstance(op, ast.In) and isinstance(k, list) and all(isinstance(item, str) for item in k):
            choices = frozenset(k)
            return lambda c: isinstance(v := left(c), str) and v in choices
        if k is not _VARIES and not isinstance(k, list):
            return lambda c: compare(left(c), k)
        rrun = right.run
        return lambda c: compare(left(c), rrun(c))

    def check_kind(self, dotted: str, info: NameInfo, literal: ast.expr) -> None:
        """A literal that the name can never equal: `affected_users == '100'`, `category == 3`."""
        if info.kind is None:
            return
        for value in literal.elts if isinstance(literal, ast.List) else [literal]:
            if not isinstance(value, ast.Constant) or value.value is None:
                continue
            given = value.value
            if info.kind == "number" and isinstance(given, str):
                raise self.error(f"'{dotted}' holds numbers, not '{given}'", value)
            if info.kind == "text" and isinstance(given, int | float) and not isinstance(given, bool):
                raise self.error(f"'{dotted}' holds text, not {given!r}: quote it ('{given}')", value)

    def check_list(self, dotted: str, op: ast.cmpop, name_first: bool, literal: ast.expr) -> None:
        """A list compared as if it were one value (`requester.orgs == 'zhejiang'`: always false)."""
        if isinstance(op, ast.In | ast.NotIn) and not name_first:
            return  # 'zhejiang' in requester.orgs: what a list is for
        if not isinstance(literal, ast.Constant | ast.List) or (isinstance(literal, ast.Constant)
                                                                 and literal.value is None):
            return
        values = [item.value for item in (literal.elts if isinstance(literal, ast.List) else [literal])
                  if isinstance(item, ast.Constant) and isinstance(item.value, str)][:3] or ["ID"]
        test, join = (" not in ", " and ") if isinstance(op, ast.NotEq | ast.NotIn) else (" in ", " or ")
        raise self.error(f"'{dotted}' is a list: write {join.join(f'{_quoted(v)}{test}{dotted}' for v in values)}",
                         literal)

    def check_choices(self, a: ast.expr, op: ast.cmpop, b: ast.expr) -> None:
        if isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE):
            for name_node, literal in ((a, b), (b, a)):
                dotted = _dotted(name_node)
                info = self.scope.names.get(dotted) if dotted else None
                if info is not None:
                    self.check_kind(dotted or "", info, literal)
            return
        if not isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn):
            return
        for name_node, literal in ((a, b), (b, a)):
            dotted = _dotted(name_node)
            info = self.scope.names.get(dotted) if dotted else None
            if info is None:
                continue
            if info.kind == "list":
                self.check_list(dotted or "", op, name_node is a, literal)
                continue
            self.check_kind(dotted or "", info, literal)
            if info.choices is None:
                continue
            values = literal.elts if isinstance(literal, ast.List) else [literal]
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    if value.value not in info.choices:
                        hint = _hint(value.value, info.choices)
                        raise self.error(f"'{value.value}' is not a choice of '{dotted}'{hint}", value)

    def call(self, node: ast.Call) -> _Code:
        func = node.func
        if isinstance(func, ast.Attribute):
            self.refuse_underscores(func)
            hint = f" (use {func.attr}(...))" if func.attr in self.scope.functions else ""
            raise self.refuse(node, f"no method calls{hint}", at=func)
        if not isinstance(func, ast.Name):
            if type(func) in _REFUSED_NODES:
                raise self.refuse(func, _REFUSED_NODES[type(func)])
            raise self.refuse(node, "only registered functions can be called")
        if func.id.startswith("_"):
            raise self.error(f"'{func.id}' is not allowed: {_UNDERSCORE}", func)
        function = self.scope.functions.get(func.id)
        if function is None:
            close = _hint(func.id, self.scope.functions)
            allowed = close or f" (allowed: {', '.join(sorted(self.scope.functions)) or 'none'})"
            raise self.error(f"function '{func.id}' is not allowed{allowed}", func)
        if node.keywords:
            raise self.refuse(node.keywords[0], "no keyword arguments")
        args = [self.compile(arg).run for arg in node.args]
        try:
            inspect.signature(function).bind(*args)
        except TypeError as exc:
            raise self.error(f"wrong number of arguments for {func.id}(): {exc}", node) from None
        except ValueError:  # no signature to check (some builtins)
            pass
        return _Code(lambda c: function(*[arg(c) for arg in args]))


# -- checks before parsing: what Python's parser would reject with a poor message, or not at all --------


def _check_tokens(text: str, shift: int) -> None:
    """Bracket depth (so Python's parser limits are never reached), then `=`, `&&`, `||`, `!` and
    comments: legal or near-legal Python that means something else here."""
    brackets: list[bool] = []  # True for the parenthesis of a call
    previous: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            at, s = shift + tok.start[1], tok.string
            if tok.type == tokenize.COMMENT:
                raise ExpressionError("'#' is not allowed: no comments", at)
            if tok.type == tokenize.NUMBER and sum(ch.isdigit() for ch in s) > MAX_LITERAL_DIGITS:
                raise ExpressionError(f"number {_quoted(s)} is too large", at)
            if s == "!":
                raise ExpressionError("'!' is not allowed: use not", at)
            if s in ("&", "|") and previous and previous[-1].string == s and previous[-1].end == tok.start:
                word = "and" if s == "&" else "or"
                raise ExpressionError(f"'{s * 2}' is not allowed: use and/or (here: {word})", at - 1)
            if s == "=":
                after = text[tok.end[1]:tok.end[1] + 1]
                if after in ("<", ">"):
                    raise ExpressionError(f"'={after}' is not allowed: use {after}=", at)
                if (brackets and brackets[-1] and len(previous) > 1 and previous[-1].type == tokenize.NAME
                        and previous[-2].string in ("(", ",")):
                    raise ExpressionError(f"'{previous[-1].string}=' is not allowed: no keyword arguments",
                                          previous[-1].start[1] + shift)
                raise ExpressionError("'=' is not allowed: use == to compare", at)
            if s in ("(", "[", "{"):
                if len(brackets) == MAX_DEPTH:
                    raise ExpressionError(f"expression is nested deeper than {MAX_DEPTH} levels", at)
                last = previous[-1] if previous else None
                called = last is not None and (last.string in (")", "]") or (
                    last.type == tokenize.NAME and not keyword.iskeyword(last.string)))
                brackets.append(s == "(" and called)
            elif s in (")", "]", "}") and brackets:
                brackets.pop()
            previous = [*previous[-1:], tok]
    except (tokenize.TokenError, SyntaxError):
        return  # the parser reports it


def _parse(text: str, shift: int, length: int) -> ast.Expression:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text, mode="eval")
        except SyntaxError as exc:
            dangling = _DANGLING.search(text)
            if dangling:
                raise ExpressionError(f"syntax error: nothing follows '{dangling.group(1)}'",
                                      shift + dangling.start(1)) from None
            reason = (exc.msg or "invalid syntax").split(" (detected at")[0].rstrip(".")
            offset = shift + (exc.offset or 1) - 1 if exc.lineno in (None, 1) else 0
            token = _TOKEN.match(text, max(0, offset - shift))
            if reason.startswith("invalid syntax") and token:  # Python says where, not what: quote it
                reason = f"unexpected {_quoted(token.group(1))}"
            raise ExpressionError(f"syntax error: {reason[:1].lower()}{reason[1:]}",
                                  max(0, min(offset, length))) from None
        except UnicodeEncodeError as exc:  # lone surrogates
            raise ExpressionError("syntax error: invalid character", shift + exc.start) from None
        except ValueError as exc:  # null bytes, on some versions
            raise ExpressionError(f"syntax error: {str(exc)[:1].lower()}{str(exc)[1:]}") from None
        except (RecursionError, MemoryError):
            raise ExpressionError("syntax error: expression too complex") from None


def compile_expression(source: str, scope: Scope, where: str = "") -> Expression:
    """Compile `source` against `scope`; raises ExpressionError for the first problem found."""
    if not isinstance(source, str):
        raise ExpressionError("expression must be a string")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    flat = source.replace("\r", " ").replace("\n", " ")  # YAML folded lines; keeps offsets
    text = flat.lstrip()
    shift = len(flat) - len(text)
    if not text.strip():
        raise ExpressionError("empty expression")
    _check_tokens(text, shift)
    tree = _parse(text, shift, len(source))
    compiler = _Compiler(text, shift, scope)
    compiler.check_depth(tree.body)
    code = compiler.compile(tree.body)
    return Expression(source, frozenset(compiler.names), where, _run=code.run)
