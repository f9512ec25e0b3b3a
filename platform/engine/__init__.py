"""The engine: runs tickets through compiled processes and persists them through the store (SPEC 8).

Packages by purpose (docs/engine.md): `runtime` (tickets through processes: the transition core, its
adapter, due work), `people` (users, sign-in, tokens), `authoring` (editor, scaffold, watch, impact, scenarios),
`channels` (intake, mail, delivery), `reports` (KPIs, known errors); `worker` drives runtime and channels.

The Python API the web layer, the worker and the scenario runner share: `Engine.create`, `Engine.fire`,
`Engine.update`, `Engine.comment`, `Engine.get`, `Engine.available_transitions`; errors are typed and map
one-to-one to HTTP statuses (`EngineError.status`).
"""

from __future__ import annotations

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
from .runtime.actors import Actor, system_actor
from .runtime.definitions import Definitions, PublishResult
from .runtime.engine import Engine

__all__ = ["ActionFailed", "Actor", "BadRequest", "Conflict", "DefinitionFailed", "Definitions", "Engine",
           "EngineError", "Forbidden", "NotFound", "PublishRefused", "PublishResult", "StaleVersion", "Unauthorized",
           "ValidationFailed", "system_actor"]
