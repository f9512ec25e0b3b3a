"""A PostgreSQL primary with a streaming replica of its own, for the read-replica test (issue 18) and
bench/replica.py: two clusters in a temporary folder on free ports of 127.0.0.1, the replica made from the
primary with `pg_basebackup -R`, so it streams the primary's WAL and answers read-only queries (hot standby).

The running test server is not used: its pg_hba.conf admits no replication connections (changing that is
the administrator's business, not a test's), and copying it with every worker's test schemas would take far
longer than a fresh cluster. PostgreSQL refuses to run as root, so as root (CI) the clusters are made and
run by the `postgres` user (`runuser`). `PG_BIN` (`ITSM_PG_BIN`) holds the binaries, PostgreSQL 15's
Debian folder by default.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

PG_BIN = Path(os.environ.get("ITSM_PG_BIN", "/usr/lib/postgresql/15/bin"))
BINARIES = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
SERVICE_USER = "postgres"  # who runs the clusters when this process is root
DATABASE = "itsm"
# a throw-away cluster: no fsync (a crash loses nothing worth keeping), small, quiet
DISPOSABLE = {"fsync": "off", "full_page_writes": "off", "shared_buffers": "32MB", "max_connections": "60"}


@dataclass(frozen=True)
class StreamingPair:
    primary_url: str  # SQLAlchemy URLs of the database DATABASE on each
    replica_url: str
    folder: Path


def missing_binaries() -> list[str]:
    """The PostgreSQL programs this needs that PG_BIN lacks (and `runuser` as root)."""
    missing = [str(PG_BIN / name) for name in BINARIES if not (PG_BIN / name).exists()]
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser")
    return missing


@contextmanager
def streaming_pair(settings: Mapping[str, str] = DISPOSABLE) -> Iterator[StreamingPair]:
    """Start a primary (with an empty database DATABASE) and its streaming replica, `settings` on both;
    stop both and remove their folder afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="itsm-replica-"))
    as_owner = _as_owner(folder)
    primary, replica = folder / "primary", folder / "replica"
    primary_port, replica_port = _free_port(), _free_port()
    started: list[Path] = []
    try:
        _run(as_owner, folder, "initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
             "--locale=C", "--no-sync")
        _start(as_owner, folder, primary, primary_port, settings)
        started.append(primary)
        primary_url = f"postgresql+psycopg://postgres@127.0.0.1:{primary_port}/{DATABASE}"
        admin = create_engine(primary_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {DATABASE}"))
        admin.dispose()
        _run(as_owner, folder, "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
             "-D", str(replica), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
        _start(as_owner, folder, replica, replica_port, settings)
        started.append(replica)
        yield StreamingPair(primary_url, f"postgresql+psycopg://postgres@127.0.0.1:{replica_port}/{DATABASE}",
                            folder)
    finally:
        for data in reversed(started):
            _run(as_owner, folder, "pg_ctl", "-D", str(data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_replay(pair: StreamingPair, seconds: float = 60.0) -> float:
    """Wait until the replica has replayed everything the primary has written so far; returns how long that
    took (the replication lag of what was written last, plus a poll)."""
    primary, replica = create_engine(pair.primary_url), create_engine(pair.replica_url)
    try:
        with primary.connect() as connection:
            target = connection.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
        began = time.monotonic()
        with replica.connect() as connection:
            while True:
                behind = connection.execute(text("SELECT pg_wal_lsn_diff(CAST(:target AS pg_lsn), "
                                                 "pg_last_wal_replay_lsn())"), {"target": target}).scalar_one()
                if behind <= 0:
                    return time.monotonic() - began
                if time.monotonic() - began > seconds:
                    raise TimeoutError(f"the replica is still {behind} bytes behind after {seconds} s")
                connection.rollback()  # a new snapshot for the next look
                time.sleep(0.005)
    finally:
        primary.dispose()
        replica.dispose()


def _start(as_owner: list[str], folder: Path, data: Path, port: int, settings: Mapping[str, str]) -> None:
    options = " ".join([f"-p {port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={folder}",
                        *(f"-c {name}={value}" for name, value in settings.items())])
    _run(as_owner, folder, "pg_ctl", "-D", str(data), "-l", str(folder / f"{data.name}.log"), "-o", options,
         "-w", "-t", "60", "start")


def _run(as_owner: list[str], folder: Path, program: str, *args: str, check: bool = True) -> None:
    result = subprocess.run([*as_owner, str(PG_BIN / program), *args], cwd=folder, capture_output=True, text=True)
    if check and result.returncode != 0:
        logs = "".join(f"\n--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
                       for log in sorted(folder.glob("*.log")))
        raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}{logs}")


def _as_owner(folder: Path) -> list[str]:
    """The command prefix that runs PostgreSQL's programs: as root, the service user, who then owns
    `folder`."""
    if os.geteuid() != 0:
        return []
    shutil.chown(folder, SERVICE_USER, SERVICE_USER)
    return ["runuser", "-u", SERVICE_USER, "--"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
