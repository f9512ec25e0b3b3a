"""The interpreter: a pack of YAML definitions in, a validated and immutable compiled model out.

Pure: no I/O beyond reading the pack's files, no Flask, no SQLAlchemy (an import-linter contract in the
tests holds every layer to SPEC section 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import DefinitionError, PackError, Position
from .model import PackSpec

if TYPE_CHECKING:
    from .loader import check_pack, load_pack

__all__ = ["DefinitionError", "PackError", "PackSpec", "Position", "check_pack", "load_pack"]


def __getattr__(name: str) -> Any:
    """The loader (YAML, shapes, template checks) is imported when a pack is first loaded, not by every
    process that only reads compiled models (a web worker importing the engine)."""
    if name in ("check_pack", "load_pack"):
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
