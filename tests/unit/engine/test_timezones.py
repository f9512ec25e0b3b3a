"""A user's time zone (SPEC 15): which names are zones, how they are spelled, and which zone a page uses."""

from __future__ import annotations

import pytest

from itsm.engine import BadRequest
from itsm.engine.people.timezones import check_timezone, suggest_timezone, zone_for, zone_names


@pytest.mark.parametrize(("typed", "zone"), [
    ("Asia/Shanghai", "Asia/Shanghai"), ("asia/shanghai", "Asia/Shanghai"), (" Asia/Urumqi ", "Asia/Urumqi"),
    ("UTC", "UTC"), ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
])
def test_iana_names_are_taken_as_iana_spells_them(typed: str, zone: str) -> None:
    assert check_timezone(typed) == zone


@pytest.mark.parametrize(("typed", "hint"), [
    ("Asia/Beijing", "did you mean 'Asia/Shanghai'?"), ("Asia/Shangai", "did you mean 'Asia/Shanghai'?"),
    ("Mars/Olympus", "write an IANA name"), ("localtime", "write an IANA name"), ("Factory", "write an IANA name"),
    ("../../etc/passwd", "write an IANA name"), ("/usr/share/zoneinfo/UTC", "write an IANA name"),
    ("Asia/Shanghai\x00", "with a control character"), ("A" * 200, "write an IANA name"),
])
def test_anything_else_is_refused_saying_what_to_write(typed: str, hint: str) -> None:
    with pytest.raises(BadRequest, match="unknown time zone") as refused:
        check_timezone(typed)
    assert hint in refused.value.message and refused.value.details == [
        {"field": "timezone", "message": "unknown time zone"}]


def test_the_list_holds_the_zones_people_live_in_and_nothing_else() -> None:
    names = zone_names()
    assert "Asia/Shanghai" in names and "Europe/Berlin" in names and list(names) == sorted(names)
    assert "localtime" not in names and "Factory" not in names
    assert suggest_timezone("Asia/Peking") == "Asia/Shanghai" and suggest_timezone("xyzzy") is None


def test_the_zone_of_a_page_is_the_users_else_the_packs_else_utc() -> None:
    assert zone_for("Asia/Shanghai", "Europe/Berlin").key == "Asia/Shanghai"
    assert zone_for(None, "Europe/Berlin").key == "Europe/Berlin"
    assert zone_for("", None).key == "UTC"
    assert zone_for("Atlantis/Capital", "Europe/Berlin").key == "Europe/Berlin"  # a name no longer known
    assert zone_for("localtime", None).key == "UTC"  # never the server's own zone
    assert zone_for("../etc", "also/../bad").key == "UTC"
