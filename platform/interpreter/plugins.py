"""Discovering plugins (SPEC 12): Python packages with entry points in the group `itsm.plugins`.

An entry point names an object with optional mappings `actions`, `functions` and `field_types`. Loading
a plugin imports admin-installed code, never anything named by YAML beyond the enabled plugin's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GROUP = "itsm.plugins"


@dataclass(frozen=True)
class Plugin:
    name: str
    actions: Mapping[str, Any] = field(default_factory=dict)
    functions: Mapping[str, Any] = field(default_factory=dict)
    field_types: Mapping[str, Any] = field(default_factory=dict)


def installed() -> dict[str, Any]:
    """Entry points of installed plugins by name (not yet imported)."""
    from importlib.metadata import entry_points  # scanning installed packages: only when a pack asks

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(name: str, entry_point: Any) -> Plugin:
    obj = entry_point.load()
    return Plugin(name, dict(getattr(obj, "actions", {}) or {}), dict(getattr(obj, "functions", {}) or {}),
                  dict(getattr(obj, "field_types", {}) or {}))
