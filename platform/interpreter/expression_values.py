"""The values of guard and condition expressions at run time: null propagates through arithmetic and makes
comparisons false; numbers stay finite and within 64 bits; strings stay bounded (`expressions` compiles
the operators to these functions)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

MAX_STRING = 100_000
_INT_LIMIT = 2**63


class _EvalFailure(Exception):
    """Raised inside closures; `Expression.evaluate` turns it into None and a log line."""


_TYPE_NAMES = ((type(None), "null"), (bool, "boolean"), (int | float, "number"), (str, "string"),
               (list | tuple, "list"), (Mapping, "mapping"))


def _type_name(value: Any) -> str:
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), type(value).__name__)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _in_range(value: Any) -> Any:
    """Numbers entering or leaving arithmetic must be finite and fit in 64 bits."""
    if isinstance(value, int):
        if -_INT_LIMIT <= value < _INT_LIMIT:
            return value
        raise _EvalFailure("integer beyond 2**63")
    if math.isfinite(value):
        return value
    raise _EvalFailure("result is not a finite number")


def _operand(value: Any, symbol: str) -> Any:
    if not _is_number(value):
        raise _EvalFailure(f"'{symbol}' needs numbers, got {_type_name(value)}")
    return _in_range(value)


def _arithmetic(symbol: str, apply: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def run(a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int and -_INT_LIMIT <= a < _INT_LIMIT and -_INT_LIMIT <= b < _INT_LIMIT:
            return _in_range(apply(a, b))  # the common case, checked in fewer steps
        if a is None or b is None:
            return None
        if symbol == "+" and isinstance(a, str) and isinstance(b, str):
            if len(a) + len(b) > MAX_STRING:
                raise _EvalFailure(f"string longer than {MAX_STRING} characters")
            return a + b
        return _in_range(apply(_operand(a, symbol), _operand(b, symbol)))

    return run


def _negate(value: Any) -> Any:
    return None if value is None else _in_range(-_operand(value, "-"))


def _ordering(symbol: str, compare: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    def run(a: Any, b: Any) -> bool:
        if type(a) is type(b) and type(a) in (int, float, str):
            return bool(compare(a, b))
        if a is None or b is None:
            return False
        if (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
            return bool(compare(a, b))
        raise _EvalFailure(f"cannot compare {_type_name(a)} {symbol} {_type_name(b)}")

    return run


def _member(item: Any, container: Any) -> bool:
    if item is None or container is None:
        return False
    if isinstance(container, str):
        if isinstance(item, str):
            return item in container
        raise _EvalFailure(f"'in' a string needs a string, got {_type_name(item)}")
    if isinstance(container, list | tuple | Mapping):
        return item in container
    raise _EvalFailure(f"'in' needs a list, a string or a mapping, got {_type_name(container)}")


def _len(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise _EvalFailure(f"len() needs a string or a list, got {_type_name(value)}")


def _lower(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value and value.lower()
    raise _EvalFailure(f"lower() needs a string, got {_type_name(value)}")


DEFAULT_FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {"len": _len, "lower": _lower, "contains": lambda container, item: _member(item, container)})

_ARITHMETIC: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", _arithmetic("+", operator.add)),
    ast.Sub: ("-", _arithmetic("-", operator.sub)),
    ast.Mult: ("*", _arithmetic("*", operator.mul)),
    ast.Div: ("/", _arithmetic("/", operator.truediv)),
    ast.Mod: ("%", _arithmetic("%", operator.mod)),
}
_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a is not None and b is not None and bool(a == b),
    ast.NotEq: lambda a, b: a is not None and b is not None and bool(a != b),
    ast.In: _member, ast.NotIn: lambda a, b: a is not None and b is not None and not _member(a, b),
    ast.Lt: _ordering("<", operator.lt), ast.LtE: _ordering("<=", operator.le),
    ast.Gt: _ordering(">", operator.gt), ast.GtE: _ordering(">=", operator.ge),
}
