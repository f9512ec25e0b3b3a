"""Durations of the language: 15m, 2h, 1h30m, 45s, 3bd; 1d and 2w only on the 24x7 calendar."""

from __future__ import annotations

import re

from .model import Duration

_PART = re.compile(r"(\d+)(bd|w|d|h|m|s)")
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_ORDER = ("w", "d", "h", "m", "s")
MAX_SECONDS = 10 * 366 * 86400  # ten years: anything longer is a typo
HINT = "use forms such as 15m, 2h, 1h30m or 3bd"


class DurationError(ValueError):
    pass


def parse_duration(raw: object) -> Duration:
    """Parse a duration; `0` (the integer) is a zero target."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise DurationError(f"invalid duration {raw!r}: {HINT}")
    if isinstance(raw, int):
        if raw == 0:
            return Duration("0", seconds=0)
        raise DurationError(f"invalid duration {raw}: a unit is missing ({raw}m? {raw}h?)")
    text = raw.strip()
    parts = []
    pos = 0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        parts.append((int(match.group(1)), match.group(2)))
        pos = match.end()
    if not parts or pos != len(text):
        raise DurationError(f"invalid duration '{raw}': {HINT}")
    units = [unit for _, unit in parts]
    if "bd" in units:
        if len(parts) > 1:
            raise DurationError(f"invalid duration '{raw}': bd cannot be combined with other units")
        return Duration(text, business_days=parts[0][0])
    if len(set(units)) != len(units) or units != sorted(units, key=_ORDER.index):
        raise DurationError(f"invalid duration '{raw}': give each unit once, largest first (such as 1h30m)")
    seconds = sum(n * _UNIT_SECONDS[u] for n, u in parts)
    if seconds > MAX_SECONDS:
        raise DurationError(f"invalid duration '{raw}': longer than ten years")
    return Duration(text, seconds=seconds, calendar_days=any(u in ("d", "w") for u in units))
