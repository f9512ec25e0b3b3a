"""Demo users for trying the default pack (`itsm serve --demo`): one person for each part of the process."""

from __future__ import annotations

from dataclasses import dataclass

from itsm.store import Database
from itsm.store import users as stored

from .users import add_user

DEMO_PASSWORD = "demo"


@dataclass(frozen=True)
class DemoUser:
    name: str
    role: str
    admin: bool = False
    vip: bool = False


DEMO_USERS = (
    DemoUser("rita", "requester: reports incidents, confirms and rates"),
    DemoUser("carol", "requester (VIP)", vip=True),
    DemoUser("lars", "L1 agent, service desk"),
    DemoUser("sam", "L1 agent, service desk"),
    DemoUser("dana", "L2 agent, desktop and application support"),
    DemoUser("nils", "L2 agent, network operations"),
    DemoUser("vera", "L3 vendor, network maintenance contractor"),
    DemoUser("dev", "L3 developer"),
    DemoUser("admin", "administrator: publishes the pack, sees everything", admin=True),
)


def ensure_demo_users(db: Database, password: str = DEMO_PASSWORD) -> list[DemoUser]:
    """Create the demo users that do not exist yet (existing accounts are left as they are)."""
    with db.read() as session:
        existing = stored.existing_names(session, [u.name for u in DEMO_USERS])
    created = []
    for user in DEMO_USERS:
        if user.name not in existing:
            add_user(db, user.name, password=password, email=f"{user.name}@example.com", admin=user.admin,
                     vip=user.vip)
            created.append(user)
    return created
