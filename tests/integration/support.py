"""Shared constants of the integration tests (importable as `support`: pytest puts this folder on sys.path)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from itsm.engine import Engine
from itsm.engine.people.users import add_user
from itsm.store import Database

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "definitions"
DEMO_USERS = {"rita": {}, "ruth": {}, "carol": {"vip": True}, "lars": {}, "sam": {}, "dana": {}, "nils": {},
              "vera": {}, "dev": {}, "admin": {"admin": True}}


class Clock:
    """A controllable clock for the engine (`Engine(db, clock=Clock(start))`)."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def demo_desk(db: Database, clock: Clock) -> Engine:
    """An engine on `clock` with the default pack published and the demo users created."""
    engine = Engine(db, clock=clock)
    engine.definitions.publish_path(DEFINITIONS)
    for name, flags in DEMO_USERS.items():
        add_user(db, name, **flags)
    return engine
