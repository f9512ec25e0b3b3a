"""The interpreter: a pack of YAML definitions in, a validated and immutable compiled model out.

Pure: no I/O beyond reading the pack's files, no Flask, no SQLAlchemy (an import-linter contract in the
tests holds every layer to SPEC section 2).
"""

from __future__ import annotations

from .errors import DefinitionError, PackError, Position
from .loader import check_pack, load_pack
from .model import PackSpec

__all__ = ["DefinitionError", "PackError", "PackSpec", "Position", "check_pack", "load_pack"]
