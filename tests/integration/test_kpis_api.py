"""`GET /api/kpis` over HTTP on SQLite and PostgreSQL: access, the error shape, the CSV download and the
channels recorded by the API and the monitoring intake (the figures themselves: test_kpis.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine.people.users import add_user, create_token
from itsm.web import engine_of

from support import DEFINITIONS, DEMO_USERS, deployed_app

LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}


@pytest.fixture()
def client(db_url: str) -> FlaskClient:
    app: Flask = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    db = engine_of(app).db
    for name, flags in DEMO_USERS.items():
        add_user(db, name, **flags)
    add_user(db, "prometheus")
    app.config["TOKENS"] = {name: create_token(db, name) for name in [*DEMO_USERS, "prometheus"]}
    return app.test_client()


def call(client: FlaskClient, path: str, who: str | None = "lars", **kwargs: Any) -> Any:
    tokens = client.application.config["TOKENS"]
    headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
    response = client.open(path, headers=headers, **kwargs)
    assert response.status_code != 500
    return response


def test_kpis_json_for_agents_and_admins_with_api_and_monitoring_channels(client: FlaskClient) -> None:
    created = call(client, "/api/tickets", "rita", method="POST", json={"process": "incident", "fields": LAPTOP})
    assert created.status_code == 201
    review = {"process": "review", "fields": {"incident": created.get_json()["number"], "summary": "Review"}}
    assert call(client, "/api/tickets", "lars", method="POST", json=review).status_code == 201
    alert = {"status": "firing", "alerts": [{"status": "firing", "fingerprint": "f1",
                                             "labels": {"alertname": "DiskFull", "severity": "warning"}}]}
    assert call(client, "/api/intake/alertmanager", "prometheus", method="POST", json=alert).status_code == 200
    for who in ("lars", "admin", "vera"):
        response = call(client, "/api/kpis", who)
        assert response.status_code == 200 and response.is_json
        kpis = response.get_json()
        assert kpis["tickets"]["created"] == 3
        # the incident form's channel field wins (its default is portal); a review has none: the API recorded it
        assert kpis["channels"] == {"api": 1, "monitoring": 1, "portal": 1}
        assert set(kpis) == {"period", "process", "processes", "team", "org", "generated_at", "tickets",
                             "time_to_acknowledge", "time_to_resolve", "sla", "backlog", "reopen",
                             "first_contact_resolution", "satisfaction", "channels", "by_week"}
    today = datetime.now(UTC).date()
    period = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    kpis = call(client, f"/api/kpis?{period}&process=incident&team=service_desk").get_json()
    assert kpis["process"] == "incident" and kpis["team"] == "service_desk"
    # the alert (severity warning: medium impact) went to the service desk too
    assert kpis["tickets"]["created"] == 2 and kpis["backlog"]["by_age"]["<1d"] == 2
    # the age buckets arrive youngest first, as the engine orders them (JSON keys are not sorted)
    assert list(kpis["backlog"]["by_age"]) == ["<1d", "1-3d", "3-7d", "7-30d", ">30d"]
    assert call(client, f"/api/kpis?{period}&process=review").get_json()["tickets"]["created"] == 1


def test_kpis_refuse_requesters_and_missing_tokens(client: FlaskClient) -> None:
    forbidden = call(client, "/api/kpis", "rita")
    assert forbidden.status_code == 403 and forbidden.get_json()["error"] == "forbidden"
    assert call(client, "/api/kpis", None).status_code == 401
    assert call(client, "/api/kpis?format=csv", "rita").status_code == 403


@pytest.mark.parametrize("query", ["from=2026-13-01", "to=soon", "from=2026-03-02&to=2026-03-01", "process=nope",
                                   "team=nope", "format=xml", "limit=3", "from=2026-03-01T25:00:00Z",
                                   "to=%00", "from=" + "9" * 300, "to=9999-12-31",
                                   "from=0001-01-01T00:00:00%2B01:00", "from=2026-03-01T08:00:00%2B25:00"])
def test_bad_kpi_parameters_are_400s_with_the_error_shape(client: FlaskClient, query: str) -> None:
    response = call(client, f"/api/kpis?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "message", "details"} and body["error"] == "bad_request" and body["message"]


def test_kpis_as_csv_download(client: FlaskClient) -> None:
    call(client, "/api/tickets", "rita", method="POST", json={"process": "incident", "fields": LAPTOP})
    response = call(client, "/api/kpis?format=csv&from=2026-01-01&to=2099-12-31")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="kpis_2026-01-01_2099-12-31.csv"'
    assert response.get_data().startswith(b"\xef\xbb\xbf")  # the byte-order mark: spreadsheets read UTF-8
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["metric", "dimension", "value"] and all(len(row) == 3 for row in rows)
    table = {(metric, dimension): value for metric, dimension, value in rows[1:]}
    assert table[("tickets_created", "")] == "1"
    assert table[("time_to_resolve_mean_seconds", "")] == ""  # none resolved: an empty cell, not "None"
    assert table[("backlog", "age=<1d")] == "1" and table[("tickets_by_channel", "channel=portal")] == "1"
    plain = call(client, "/api/kpis?format=csv")
    assert plain.headers["Content-Disposition"] == 'attachment; filename="kpis.csv"'
