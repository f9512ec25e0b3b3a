"""Intake over HTTP: Alertmanager payloads (firing, repeat, resolved) give exactly one incident, later resolved,
by the pack's mapping (or the built-in one when the pack declares none); a generic JSON intake creates,
updates and resolves by key; bad payloads are 4xx with the error shape of SPEC 10."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from itsm.engine.people.users import add_user, create_token
from itsm.store.models import Base
from itsm.web import engine_of

from support import DEFINITIONS, deployed_app


def payload(status: str, **extra: Any) -> dict[str, Any]:
    return {"version": "4", "status": status, "receiver": "itsm", "groupKey": "{}:{alertname=\"CoreSwitchDown\"}",
            "commonLabels": {"alertname": "CoreSwitchDown"},
            "alerts": [{"status": status, "fingerprint": "a1b2c3d4e5f6",
                        "labels": {"alertname": "CoreSwitchDown", "severity": "critical", "instance": "ber-core-01"},
                        "annotations": {"summary": "Core switch ber-core-01 unreachable",
                                        "description": "ICMP and SNMP fail for 3 minutes"},
                        "startsAt": "2026-03-09T09:55:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prometheus.local/graph?g0.expr=up%3D%3D0", **extra}]}


@pytest.fixture()
def app(db_url: str) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    add_user(engine_of(app).db, "monitoring")
    app.config["TOKEN"] = create_token(engine_of(app).db, "monitoring")
    return app


def post(app: Flask, body: Any, intake: str = "alertmanager") -> tuple[int, Any]:
    response = app.test_client().post(f"/api/intake/{intake}", json=body,
                                      headers={"Authorization": f"Bearer {app.config['TOKEN']}"})
    return response.status_code, response.get_json()


def test_firing_repeat_resolved_make_one_incident_that_is_resolved(app: Flask) -> None:
    status, body = post(app, payload("firing"))
    assert status == 200 and body["results"][0]["action"] == "created"
    number = body["results"][0]["number"]
    engine = engine_of(app)
    ticket = engine.get(engine.actor("system"), number)
    assert ticket["fields"]["channel"] == "monitoring" and ticket["priority"] == "P1"
    assert ticket["team"] == "network_ops" and ticket["requester"] == "monitoring"
    assert ticket["fields"]["short_description"] == "Core switch ber-core-01 unreachable"

    status, body = post(app, payload("firing"))  # Alertmanager repeats while the alert fires
    assert body["results"] == [{"fingerprint": "a1b2c3d4e5f6", "number": number, "action": "unchanged"}]

    worse = payload("firing")  # the same alert, repeated with another description and severity
    worse["alerts"][0]["annotations"]["description"] = "Both uplinks down"
    worse["alerts"][0]["labels"]["severity"] = "warning"
    assert post(app, worse)[1]["results"] == [{"fingerprint": "a1b2c3d4e5f6", "number": number,
                                               "action": "updated"}]
    updated = engine.get(engine.actor("system"), number)
    assert updated["fields"]["description"].startswith("Both uplinks down\n\nLabels: ")
    assert "severity=warning" in updated["fields"]["description"]
    assert (updated["fields"]["impact"], updated["priority"]) == ("high", "P1")  # only `update:` fields change
    assert [e["kind"] for e in engine.events(engine.actor("system"), number)].count("update") == 1

    system = engine.actor("system")
    engine.fire(system, number, "start", {"service": "network", "category": "network"})  # an agent works it
    status, body = post(app, payload("resolved", endsAt="2026-03-09T10:20:00Z"))
    assert body["results"][0]["action"] == "resolved"
    resolved = engine.get(engine.actor("system"), number)
    assert resolved["state"] == "resolved" and resolved["fields"]["resolution_code"] == "fixed"
    with engine.db.read() as session:
        from itsm.store import Ticket

        assert len(session.scalars(select(Ticket.number)).all()) == 1

    status, body = post(app, payload("resolved"))  # a repeated "resolved" changes nothing more
    assert body["results"][0]["action"] == "unchanged"
    assert engine.get(engine.actor("system"), number)["fields"].get("review_requested") is False

    status, body = post(app, payload("firing"))  # the switch fails again: a new incident, not a lost repeat
    again = body["results"][0]
    assert (again["action"], again["previous"]) == ("created", number) and again["number"] != number
    assert engine.get(system, number)["state"] == "resolved"
    assert post(app, payload("firing"))[1]["results"][0] == {"fingerprint": "a1b2c3d4e5f6",
                                                             "number": again["number"], "action": "unchanged"}


def test_an_alert_that_resolves_before_anyone_worked_it_is_commented(app: Flask) -> None:
    number = post(app, payload("firing"))[1]["results"][0]["number"]
    status, body = post(app, payload("resolved", endsAt="2026-03-09T10:00:00Z"))
    assert body["results"][0]["action"] == "commented"  # `new` has no way to `resolved` in the default pack
    engine = engine_of(app)
    comments = engine.comments(engine.actor("system"), number)
    assert comments[-1]["text"] == "Resolved by monitoring: the alert ended at 2026-03-09T10:00:00Z."


def test_another_token_cannot_touch_or_find_an_incident_it_may_not_see_by_replaying_its_key(app: Flask) -> None:
    number = post(app, payload("firing"))[1]["results"][0]["number"]
    engine = engine_of(app)
    add_user(engine.db, "rita")
    add_user(engine.db, "admin", admin=True)
    before = engine.events(engine.actor("system"), number)
    changed = payload("firing")
    changed["alerts"][0]["annotations"]["description"] = "All fine, ignore this incident"
    app.config["TOKEN"] = create_token(engine.db, "rita")
    for body in (payload("resolved", endsAt="2026-03-09T10:00:00Z"), changed, payload("firing")):
        status, answer = post(app, body)
        assert status == 200 and answer["results"][0]["action"] == "rejected"
        assert answer["results"][0]["number"] is None  # the number of someone else's ticket is not told
    assert engine.events(engine.actor("system"), number) == before  # no comment, no update
    app.config["TOKEN"] = create_token(engine.db, "admin")  # who may see the ticket may act on its key
    status, answer = post(app, payload("resolved", endsAt="2026-03-09T10:00:00Z"))
    assert answer["results"][0] == {"fingerprint": "a1b2c3d4e5f6", "number": number, "action": "commented"}


def test_intake_refuses_what_is_not_an_alertmanager_payload(app: Flask) -> None:
    assert post(app, {"alerts": "x"})[0] == 400
    assert post(app, [1, 2])[0] == 400
    unauthenticated = app.test_client().post("/api/intake/alertmanager", json=payload("firing"))
    assert unauthenticated.status_code == 401


def publish_overlay(app: Flask, tmp_path: Path, documents: str) -> None:
    """Publish the default pack with an overlay of `documents` on top."""
    (tmp_path / "pack.yaml").write_text(f"kind: pack\nid: client\nformat: 1\nextends: {DEFINITIONS}\n---\n{documents}")
    engine_of(app).definitions.publish_path(tmp_path)


def test_the_packs_mapping_drives_the_alertmanager_intake(app: Flask, tmp_path: Path) -> None:
    publish_overlay(app, tmp_path, """kind: intake
id: alertmanager
fields:
  short_description: "[{{ labels.severity | upper }}] {{ labels.alertname }} on {{ labels.instance }}"
  impact: {from: "{{ labels.severity }}", map: {critical: low}, default: medium}
  affected_users: "{{ labels.instance }}"
""")
    result = post(app, payload("firing"))[1]["results"][0]
    assert result["dropped"] == {"affected_users": "'ber-core-01' is not a number for field 'affected_users'"}
    number = result["number"]
    ticket = engine_of(app).get(engine_of(app).actor("system"), number)
    assert ticket["fields"]["short_description"] == "[CRITICAL] CoreSwitchDown on ber-core-01"
    assert ticket["fields"]["impact"] == "low" and ticket["fields"]["urgency"] == "high"  # urgency: the base's


def test_a_pack_without_an_alertmanager_intake_gets_the_built_in_mapping(app: Flask, tmp_path: Path) -> None:
    publish_overlay(app, tmp_path, "{kind: intake, id: alertmanager, remove: true}\n")
    engine = engine_of(app)
    assert "alertmanager" not in engine.definitions.active().pack.intakes
    number = post(app, payload("firing"))[1]["results"][0]["number"]
    ticket = engine.get(engine.actor("system"), number)
    assert ticket["priority"] == "P1" and ticket["fields"]["description"] == (
        "ICMP and SNMP fail for 3 minutes\n\nLabels: alertname=CoreSwitchDown, instance=ber-core-01, severity=critical")
    engine.fire(engine.actor("system"), number, "start", {"service": "network", "category": "network"})
    assert post(app, payload("resolved"))[1]["results"][0]["action"] == "resolved"


def check(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"check": {"id": "shop-web", "name": "Web shop", "url": "https://shop.example.com"}, "state": "down",
            "message": "HTTP 503 for 3 minutes", "severity": "high", **extra, **body}


def test_a_json_intake_creates_updates_and_resolves_by_key(app: Flask) -> None:
    status, body = post(app, check({}), "uptime")
    assert status == 200 and body["results"][0]["action"] == "created" and body["results"][0]["key"] == "shop-web"
    number = body["results"][0]["number"]
    engine = engine_of(app)
    system = engine.actor("system")
    ticket = engine.get(system, number)
    assert ticket["fields"]["short_description"] == "Web shop is down" and ticket["priority"] == "P1"
    assert ticket["requester"] == "monitoring"

    assert post(app, check({}), "uptime")[1]["results"][0] == {"key": "shop-web", "number": number,
                                                               "action": "unchanged"}
    body = post(app, check({"severity": "medium", "message": "HTTP 503 on half the requests"}), "uptime")[1]
    assert body["results"][0]["action"] == "updated"
    ticket = engine.get(system, number)
    assert ticket["fields"]["impact"] == "medium" and ticket["priority"] == "P3"
    assert ticket["fields"]["short_description"] == "Web shop is down"  # not in `update`: kept

    other = post(app, check({"check": {"id": "erp-api", "name": "ERP API"}}), "uptime")[1]["results"][0]
    assert other["action"] == "created" and other["number"] != number  # another key, another incident

    engine.fire(system, number, "start", {"service": "crm", "category": "software"})
    assert post(app, check({"state": "up"}), "uptime")[1]["results"][0]["action"] == "resolved"
    resolved = engine.get(system, number)
    assert resolved["state"] == "resolved" and resolved["fields"]["resolution_notes"] == (
        "Resolved by the uptime check: Web shop is up again.")
    assert post(app, check({"state": "up"}), "uptime")[1]["results"][0]["action"] == "unchanged"
    up_unknown = post(app, check({"state": "up", "check": {"id": "never-seen"}}), "uptime")[1]["results"][0]
    assert up_unknown == {"key": "never-seen", "number": None, "action": "ignored"}


def test_values_a_field_cannot_hold_are_dropped_and_bad_payloads_are_4xx(app: Flask) -> None:
    body = post(app, check({"check": {"id": "x1", "name": "Mail relay", "url": 7}, "severity": "urgent!"}),
                "uptime")[1]
    assert body["results"][0]["action"] == "created"  # an unknown severity maps to the default (medium)
    status, error = post(app, check({"check": {"name": "No id"}}), "uptime")
    assert status == 400 and set(error) == {"error", "message", "details"} and "no key" in error["message"]
    status, error = post(app, check({"check": "just text"}), "uptime")
    assert status == 400
    assert post(app, [check({})], "uptime")[0] == 400
    assert post(app, check({}), "nagios")[0] == 404
    assert post(app, check({}), "email")[0] == 404  # mail comes in through itsm mail-intake
    unauthenticated = app.test_client().post("/api/intake/uptime", json=check({}))
    assert unauthenticated.status_code == 401


def test_migrations_build_exactly_the_models(app: Flask) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from itsm.store.search import FTS_TABLE, GIN_INDEX, NOTES_INDEX, include_in_comparison, is_search_index

    with engine_of(app).db.engine.connect() as connection:
        # The full-text index cannot be declared as models (an FTS5 virtual table with its shadow tables on
        # SQLite, a GIN expression index on PostgreSQL): the comparison skips exactly those, and they must exist.
        context = MigrationContext.configure(connection, opts={"include_name": include_in_comparison})
        assert compare_metadata(context, Base.metadata) == []
        inspector = inspect(connection)
        skipped = {name for name in inspector.get_table_names() if is_search_index(name, "table")}
        skipped |= {index["name"] for table in inspector.get_table_names() for index in inspector.get_indexes(table)
                    if is_search_index(index["name"], "index")}
        if connection.dialect.name == "sqlite":
            assert skipped == {FTS_TABLE, *(f"{FTS_TABLE}_{shadow}" for shadow in ("data", "idx", "docsize", "config"))}
        else:
            assert skipped == {GIN_INDEX, NOTES_INDEX}


def test_concurrent_repeats_of_one_key_open_one_incident(app: Flask) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from itsm.engine.channels.intake import receive
    from itsm.store import Ticket

    engine = engine_of(app)
    monitoring = engine.actor("monitoring")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: receive(engine, monitoring, "uptime", check({}))[0], range(8)))
    assert sorted(r["action"] for r in results) == ["created"] + ["unchanged"] * 7
    assert len({r["number"] for r in results}) == 1
    with engine.db.read() as session:
        assert len(session.scalars(select(Ticket.number)).all()) == 1
