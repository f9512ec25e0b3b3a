"""The engine: runs tickets through compiled processes and persists them through the store (SPEC 8).

The Python API the web layer, the worker and the scenario runner share: `Engine.create`, `Engine.fire`,
`Engine.update`, `Engine.comment`, `Engine.get`, `Engine.available_transitions`; errors are typed and map
one-to-one to HTTP statuses (`EngineError.status`).
"""

from __future__ import annotations

from .actors import Actor, system_actor
from .core import Engine
from .definitions import Definitions, PublishResult
from .errors import (
    ActionFailed,
    BadRequest,
    Conflict,
    DefinitionFailed,
    EngineError,
    Forbidden,
    NotFound,
    PublishRefused,
    StaleVersion,
    Unauthorized,
    ValidationFailed,
)

__all__ = ["ActionFailed", "Actor", "BadRequest", "Conflict", "DefinitionFailed", "Definitions", "Engine",
           "EngineError", "Forbidden", "NotFound", "PublishRefused", "PublishResult", "StaleVersion", "Unauthorized",
           "ValidationFailed", "system_actor"]
