"""engine/boundary.py: each pure core's exception becomes one typed engine error; anything else passes."""

from __future__ import annotations

import pytest

from itsm.engine import ActionFailed, BadRequest, DefinitionFailed, EngineError
from itsm.engine.boundary import boundary, guarded, translate
from itsm.interpreter.durations import DurationError
from itsm.interpreter.expressions import ExpressionError
from itsm.interpreter.templates import TemplateFailed
from itsm.routing import RoutingError
from itsm.sla import NoWorkingTime


@pytest.mark.parametrize(("raised", "kind", "message"), [
    (NoWorkingTime("calendar 'office' has no working time"), DefinitionFailed,
     "cannot time this ticket at p.yaml:3:1: calendar 'office' has no working time: fix the pack and publish it again"),
    (RoutingError("routing 'r' has no default rule"), DefinitionFailed,
     "cannot route this ticket at p.yaml:3:1: routing 'r' has no default rule: fix the pack and publish it again"),
    (ExpressionError("unknown name 'x'", 3), DefinitionFailed,
     "expression at p.yaml:3:1 does not compile: unknown name 'x': fix the pack and publish it again"),
    (DurationError("invalid duration '3x'"), DefinitionFailed,
     "the active pack fails at p.yaml:3:1: invalid duration '3x': fix the pack and publish it again"),
    (TemplateFailed("'a' is undefined"), ActionFailed, "template at p.yaml:3:1 failed: 'a' is undefined"),
])
def test_each_core_error_has_its_typed_error(raised: Exception, kind: type[EngineError], message: str) -> None:
    error = translate(raised, "p.yaml:3:1")
    assert type(error) is kind and error.message == message and error.status == 409
    with pytest.raises(kind) as caught, boundary("p.yaml:3:1"):
        raise raised
    assert caught.value.__cause__ is raised


def test_a_template_may_blame_the_payload_instead() -> None:
    error = translate(TemplateFailed("unsupported operand"), "intake.yaml:2:1", templates=BadRequest)
    assert type(error) is BadRequest and error.status == 400
    assert error.message == "this payload does not fit the template at intake.yaml:2:1: unsupported operand"


def test_engine_errors_and_bugs_pass_unchanged() -> None:
    @guarded
    def entry(exc: Exception) -> None:
        raise exc

    for exc in (ActionFailed("a plugin said no"), KeyError("bug")):
        with pytest.raises(type(exc)) as caught:
            entry(exc)
        assert caught.value is exc
    assert entry.__name__ == "entry"
