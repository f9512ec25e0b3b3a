"""First-match routing rules (SPEC 4 routing): the first rule whose condition holds names the team."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsm.interpreter.model import RoutingRule, RoutingSpec


class RoutingError(LookupError):
    """No rule gives the ticket a team (a routing without its default rule: refused at load)."""


@dataclass(frozen=True)
class RoutingDecision:
    rule: RoutingRule
    team: str
    user: str | None  # a rule's fixed user; member selection by strategy is the caller's next step


def route(routing: RoutingSpec, context: Mapping[str, Any]) -> RoutingDecision:
    """The decision for a ticket context; the default rule (validated to exist, last) catches the rest."""
    for rule in routing.rules:
        if rule.default or (rule.when is not None and rule.when.test(context)):
            return RoutingDecision(rule, rule.team, rule.user)
    raise RoutingError(f"routing '{routing.id}' has no default rule")  # pragma: no cover - validated at load
