"""Alertmanager intake: firing, repeat and resolved payloads give exactly one incident, later resolved."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from itsm.engine.users import add_user, create_token
from itsm.store.models import Base
from itsm.web import create_app, engine_of

from support import DEFINITIONS


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
    app = create_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    add_user(engine_of(app).db, "monitoring")
    app.config["TOKEN"] = create_token(engine_of(app).db, "monitoring")
    return app


def post(app: Flask, body: Any) -> tuple[int, Any]:
    response = app.test_client().post("/api/intake/alertmanager", json=body,
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


def test_an_alert_that_resolves_before_anyone_worked_it_is_commented(app: Flask) -> None:
    number = post(app, payload("firing"))[1]["results"][0]["number"]
    status, body = post(app, payload("resolved", endsAt="2026-03-09T10:00:00Z"))
    assert body["results"][0]["action"] == "commented"  # `new` has no way to `resolved` in the default pack
    engine = engine_of(app)
    comments = engine.comments(engine.actor("system"), number)
    assert comments[-1]["text"] == "Resolved by monitoring: the alert ended at 2026-03-09T10:00:00Z."


def test_intake_refuses_what_is_not_an_alertmanager_payload(app: Flask) -> None:
    assert post(app, {"alerts": "x"})[0] == 400
    assert post(app, [1, 2])[0] == 400
    unauthenticated = app.test_client().post("/api/intake/alertmanager", json=payload("firing"))
    assert unauthenticated.status_code == 401


def test_migrations_build_exactly_the_models(app: Flask) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from itsm.store.search import FTS_TABLE, GIN_INDEX, include_in_comparison, is_search_index

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
            assert skipped == {GIN_INDEX}
