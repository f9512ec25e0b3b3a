"""First-match routing rules (SPEC 4 routing): the first rule whose condition holds names the team.

A team with `org_scope` (SPEC 14) is routed only the tickets of its organization's subtree: a rule naming a
team that does not serve the ticket does not match, and the next rule is tried. The default rule's team
serves every ticket (the interpreter refuses a scoped one), so every ticket finds a team.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


def route(routing: RoutingSpec, context: Mapping[str, Any],
          serves: Callable[[str], bool] | None = None) -> RoutingDecision:
    """The decision for a ticket context; the default rule (validated to exist, last) catches the rest.
    `serves(team)`: whether that team serves the ticket's organization (None: every team does)."""
    for rule in routing.rules:
        if rule.default or ((serves is None or serves(rule.team)) and rule.when is not None
                            and rule.when.test(context)):
            return RoutingDecision(rule, rule.team, rule.user)
    raise RoutingError(f"routing '{routing.id}' has no default rule")  # pragma: no cover - validated at load
