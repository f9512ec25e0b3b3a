"""The one place where the pure cores' exceptions become the engine's typed errors (SPEC 10: never a 500).

`interpreter`, `sla` and `routing` know nothing of HTTP: they raise their own exceptions (a calendar without
working time, a routing that matches no rule, a template that fails on this ticket's values, an expression
or duration compiled at runtime). Every engine entry point runs under `boundary`, so a pack that loaded
never turns one of them into a server error: the caller gets a 409 that names the rule, and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from jinja2 import TemplateError

from itsm.interpreter.durations import DurationError
from itsm.interpreter.expressions import ExpressionError
from itsm.routing import RoutingError
from itsm.sla import NoWorkingTime
from itsm.store import outage

from .errors import N_, ActionFailed, BadRequest, DefinitionFailed, EngineError

P = ParamSpec("P")
R = TypeVar("R")

CORE_ERRORS: tuple[type[Exception], ...] = (NoWorkingTime, RoutingError, TemplateError, ExpressionError,
                                            DurationError)
_FIX = N_("fix the pack and publish it again")


def translate(exc: Exception, where: str = "", templates: type[EngineError] = ActionFailed) -> EngineError:
    """The typed error for an exception of a pure core. `templates` is who is to blame when a template fails:
    the pack's action (ActionFailed, 409) or, for intakes, the sender's payload (BadRequest, 400)."""
    at = N_(" at %(where)s", where=where) if where else ""  # the core's own words stay English (docs/translating.md)
    if isinstance(exc, TemplateError):
        if issubclass(templates, BadRequest):
            return templates(N_("this payload does not fit the template%(at)s: %(error)s", at=at, error=str(exc)))
        return templates(N_("template%(at)s failed: %(error)s", at=at, error=str(exc)))
    if isinstance(exc, NoWorkingTime):
        return DefinitionFailed(N_("cannot time this ticket%(at)s: %(error)s: %(fix)s", at=at, error=str(exc),
                                   fix=_FIX))
    if isinstance(exc, RoutingError):
        return DefinitionFailed(N_("cannot route this ticket%(at)s: %(error)s: %(fix)s", at=at, error=str(exc),
                                   fix=_FIX))
    if isinstance(exc, ExpressionError):
        return DefinitionFailed(N_("expression%(at)s does not compile: %(error)s: %(fix)s", at=at, error=exc.message,
                                   fix=_FIX))
    return DefinitionFailed(N_("the active pack fails%(at)s: %(error)s: %(fix)s", at=at, error=str(exc), fix=_FIX))


@contextmanager
def boundary(where: str = "", templates: type[EngineError] = ActionFailed) -> Iterator[None]:
    """Run a block whose pure-core exceptions leave it as typed engine errors (others pass unchanged)."""
    try:
        yield
    except CORE_ERRORS as exc:
        raise translate(exc, where, templates) from exc
    except ActionFailed as exc:  # an action that lost the database on a lookup: an outage (503), not a 409
        if exc.__cause__ is not None and outage(exc.__cause__):
            raise exc.__cause__ from None
        raise


def guarded(function: Callable[P, R]) -> Callable[P, R]:
    """An engine entry point under `boundary`: what the pure cores raise reaches callers as an EngineError."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with boundary():
            return function(*args, **kwargs)

    return wrapper
