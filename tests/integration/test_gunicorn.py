"""Production serving: gunicorn with several workers on `itsm.web:create_app()`, one shared database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from itsm.engine.people.users import add_user, create_token
from itsm.store import Database

from support import DEFINITIONS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})},
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_gunicorn_serves_the_api_with_several_workers(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    db.upgrade()
    add_user(db, "rita")
    token = create_token(db, "rita")
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {**os.environ, "ITSM_DATABASE_URL": db_url, "ITSM_PACK": str(DEFINITIONS)}
    server = subprocess.Popen([str(gunicorn), "--workers", "2", "--bind", f"127.0.0.1:{port}",
                               "itsm.web:create_app()"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 90  # workers publish the pack as they boot: slow on a busy machine
        while True:
            try:
                status, health = call(f"{base}/health")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        assert status == 200 and health["definitions_version"]
        numbers = set()
        for i in range(6):  # requests spread over both workers
            status, ticket = call(f"{base}/tickets", token, {"process": "incident",
                                                             "fields": {"short_description": f"Printer {i} jams"}})
            assert status == 201, ticket
            numbers.add(ticket["number"])
        assert len(numbers) == 6
        status, page = call(f"{base}/tickets?limit=10", token)
        assert status == 200 and len(page["items"]) == 6
    finally:
        server.terminate()
        server.wait(timeout=30)
