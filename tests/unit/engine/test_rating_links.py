"""One-click rating links (issue 17): signed, expiring, bound to one person; and `audience: agent` as the
loader reads it (the pure parts; tests/integration/test_requester_view.py drives the pages)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from itsm.engine.runtime.rating_links import LinkRefused, Links, RatingLink, link_key, rating_transition, read, sign
from itsm.interpreter import load_pack
from itsm.interpreter.loader import check_pack

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
KEY = link_key("the session secret")


def link(**changes: object) -> RatingLink:
    facts: dict[str, object] = {"number": "INC0000042", "user": "rita", "transition": "close", "field": "satisfaction",
                                "value": 4, "expires": NOW + timedelta(days=14)}
    facts.update(changes)
    return RatingLink(**facts)


def test_a_signed_link_reads_back_until_it_expires() -> None:
    token = sign(KEY, link())
    assert read(KEY, token, NOW) == link()
    assert read(KEY, token, NOW + timedelta(days=13, hours=23)) == link()
    with pytest.raises(LinkRefused) as expired:
        read(KEY, token, NOW + timedelta(days=14))
    assert expired.value.reason == "expired" and expired.value.link == link()


def test_an_altered_or_foreign_link_is_invalid() -> None:
    token = sign(KEY, link())
    payload, _, signature = token.partition(".")
    other = sign(KEY, link(value=5)).partition(".")[0]
    for bad in (f"{other}.{signature}", f"{payload}.{signature[:-2]}", payload, "", "x.y",
                sign(link_key("another installation"), link())):
        with pytest.raises(LinkRefused) as refused:
            read(KEY, bad, NOW)
        assert refused.value.reason == "invalid"


def test_the_default_pack_rates_on_its_confirm_transition_and_links_each_value() -> None:
    pack = load_pack(ROOT / "definitions")
    process = pack.processes["incident"]
    form = pack.forms["incident"]
    step = rating_transition(form, process, "resolved")
    assert step is not None and (step[0].id, step[1].id) == ("close", "satisfaction")
    assert rating_transition(form, process, "in_progress") is None
    links = Links("https://desk.example.org", KEY)
    made = links.for_ticket(form, process, "INC0000042", "resolved", "rita", NOW)
    assert made["ticket"] == "https://desk.example.org/tickets/INC0000042" and sorted(made["rate"]) == [1, 2, 3, 4, 5]
    token = made["rate"][3].removeprefix("https://desk.example.org/rate/")
    assert read(KEY, token, NOW) == link(value=3, expires=NOW + timedelta(days=14))
    assert links.for_ticket(form, process, "INC0000042", "in_progress", "rita", NOW)["rate"] == {}


def test_agent_fields_of_the_default_pack_and_what_the_loader_says_about_them(tmp_path: Path) -> None:
    form = load_pack(ROOT / "definitions").forms["incident"]
    agents = {spec.id for spec in form.fields if spec.for_agents}
    assert {"work_notes", "known_error", "major_incident", "resolution_code", "channel"} <= agents
    assert not agents & {"short_description", "description", "service", "urgency", "satisfaction", "feedback",
                         "reopen_reason"}
    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "definitions", pack)
    forms = pack / "forms" / "incident.yaml"
    original = forms.read_text()
    forms.write_text(original.replace("  - id: location\n", "  - id: location\n    audience: staff\n"))
    lines = [str(p) for p in check_pack(pack)[1]]
    assert any("audience: 'staff' is not one of: everyone, agent" in line for line in lines), lines
    forms.write_text(original.replace("    type: rating\n", "    type: rating\n    audience: agent\n")
                     .replace("  - id: known_error\n    audience: agent\n",
                              "  - id: known_error\n    audience: agent\n    required: true\n"))
    lines = [str(p) for p in check_pack(pack)[1]]
    assert any("error:" in line and "required: a field only agents fill in cannot always be required" in line
               for line in lines), lines
    assert any("warning:" in line and "transitions[" in line and "'satisfaction' has `audience: agent`" in line
               for line in lines), lines
