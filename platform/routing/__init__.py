"""Routing (pure): which team and member get a ticket, from the compiled routing rules.

No I/O: callers pass the ticket's expression context and, for load-based strategies, the counts.
"""

from __future__ import annotations

from .assignment import Assignment, candidates, choose
from .rules import RoutingDecision, RoutingError, route

__all__ = ["Assignment", "RoutingDecision", "RoutingError", "candidates", "choose", "route"]
