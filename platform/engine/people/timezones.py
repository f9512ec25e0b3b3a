"""A user's time zone (SPEC 15): an IANA name the pages show times in; none chosen, the pack's, else UTC.

The name is checked against the zones the installation knows (`zoneinfo`, with the `tzdata` package where
the system has none), so a typo is refused with a suggestion instead of silently showing times in UTC.
"""

from __future__ import annotations

import difflib
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from itsm.interpreter.service_levels import ZONE_ALIASES

from ..errors import N_, BadRequest

MAX_TIMEZONE = 64  # the column's length
# Names zoneinfo lists that are no fixed zone: the server's own setting, and tzdata's placeholder.
NOT_ZONES = frozenset({"localtime", "Factory"})
# What the "my settings" page offers first (this desk's zones), before the searchable list of all of them.
COMMON_ZONES = ("Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong", "Asia/Macau", "UTC",
                "Asia/Tokyo", "Asia/Singapore", "Europe/London", "Europe/Berlin", "America/New_York")


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this installation can show times in, sorted."""
    return tuple(sorted(available_timezones() - NOT_ZONES))


@functools.cache
def _by_lower_case() -> dict[str, str]:
    return {name.lower(): name for name in zone_names()}


def check_timezone(name: str) -> str:
    """The IANA zone `name` spells, as IANA writes it ("asia/shanghai" -> "Asia/Shanghai"); BadRequest saying
    what to write instead for anything else."""
    text = name.strip()
    found = _by_lower_case().get(text.lower()) if len(text) <= MAX_TIMEZONE else None
    if found is None:
        shown = f"'{text[:80]}'" if text.isprintable() else "(with a control character)"
        close = suggest_timezone(text)
        message = (N_("unknown time zone %(zone)s (did you mean '%(close)s'?): write an IANA name such as "
                      "Asia/Shanghai, or nothing for the pack's", zone=shown, close=close) if close else
                   N_("unknown time zone %(zone)s: write an IANA name such as Asia/Shanghai, or nothing for the "
                      "pack's", zone=shown))
        raise BadRequest(message, [{"field": "timezone", "message": N_("unknown time zone")}])
    return found


def suggest_timezone(text: str) -> str | None:
    """The zone someone probably meant by `text` (Asia/Beijing: Asia/Shanghai), or None."""
    alias = ZONE_ALIASES.get(text)
    if alias:
        return alias
    close = difflib.get_close_matches(text[:MAX_TIMEZONE], zone_names(), n=1, cutoff=0.6)
    return close[0] if close else None


def zone_for(chosen: str | None, pack_timezone: str | None) -> ZoneInfo:
    """The zone times are shown in: the user's choice, else the pack's, else UTC. A stored name this
    installation no longer knows (its tzdata changed) falls back the same way rather than failing a page."""
    for name in (chosen, pack_timezone):
        if name and name not in NOT_ZONES:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return ZoneInfo("UTC")  # tzdata, a dependency, always has it
