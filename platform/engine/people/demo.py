"""Demo data for trying a pack (`itsm serve --demo`): one person for each part of the process, and a small
organization tree (SPEC 14) with a unit contact and a city desk's agent.

The tree is a province with two cities and their units, named in the pack's language (Chinese names for a
`zh-CN` pack such as examples/gov-desk, English ones otherwise); both packs' city desk (`org_scope:
hangzhou`) serves Hangzhou's units.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsm.store import Database, orgs
from itsm.store import users as stored

from .users import add_user

DEMO_PASSWORD = "demo"


@dataclass(frozen=True)
class DemoUser:
    name: str
    role: str
    admin: bool = False
    vip: bool = False
    org: str | None = None
    org_contact: bool = False


@dataclass(frozen=True)
class DemoOrg:
    id: str
    name: str  # English
    name_zh: str  # Chinese, for a zh-CN pack
    parent: str | None = None


DEMO_ORGS = (  # parents first
    DemoOrg("zhejiang", "Zhejiang Province", "浙江省"),
    DemoOrg("hangzhou", "Hangzhou", "杭州市", "zhejiang"),
    DemoOrg("hz-finance", "Hangzhou Finance Bureau", "杭州市财政局", "hangzhou"),
    DemoOrg("hz-education", "Hangzhou Education Bureau", "杭州市教育局", "hangzhou"),
    DemoOrg("ningbo", "Ningbo", "宁波市", "zhejiang"),
    DemoOrg("nb-finance", "Ningbo Finance Bureau", "宁波市财政局", "ningbo"),
    DemoOrg("nb-transport", "Ningbo Transport Bureau", "宁波市交通运输局", "ningbo"),
)

DEMO_USERS = (
    DemoUser("rita", "requester (Ningbo Finance Bureau): reports incidents, confirms and rates", org="nb-finance"),
    DemoUser("una", "requester and the Ningbo Finance Bureau's contact: sees the bureau's tickets", org="nb-finance",
             org_contact=True),
    DemoUser("hana", "requester (Hangzhou Education Bureau): her incidents go to the Hangzhou desk",
             org="hz-education"),
    DemoUser("carol", "requester (VIP, provincial office)", vip=True, org="zhejiang"),
    DemoUser("lars", "L1 agent, service desk"),
    DemoUser("sam", "L1 agent, service desk"),
    DemoUser("hugo", "L1 agent, Hangzhou desk: sees and is routed only Hangzhou's tickets"),
    DemoUser("dana", "L2 agent, desktop and application support"),
    DemoUser("nils", "L2 agent, network operations"),
    DemoUser("vera", "L3 vendor, network maintenance contractor"),
    DemoUser("dev", "L3 developer"),
    DemoUser("admin", "administrator: publishes the pack, sees everything", admin=True),
)


def ensure_demo_orgs(db: Database, language: str = "en") -> list[DemoOrg]:
    """Create the demo organizations that do not exist yet, named in `language` (existing ones are left as
    they are)."""
    created = []
    with db.write() as session:
        existing = orgs.paths_of(session, [org.id for org in DEMO_ORGS])
        for org in DEMO_ORGS:
            if org.id not in existing:
                orgs.add(session, org.id, org.name_zh if language.lower().startswith("zh") else org.name,
                         parent=org.parent)
                created.append(org)
    return created


def ensure_demo_users(db: Database, password: str = DEMO_PASSWORD, language: str = "en") -> list[DemoUser]:
    """Create the demo organizations and the demo users that do not exist yet (existing accounts are left as
    they are)."""
    ensure_demo_orgs(db, language)
    with db.read() as session:
        existing = stored.existing_names(session, [u.name for u in DEMO_USERS])
    created = []
    for user in DEMO_USERS:
        if user.name not in existing:
            add_user(db, user.name, password=password, email=f"{user.name}@example.com", admin=user.admin,
                     vip=user.vip, org=user.org, org_contact=user.org_contact)
            created.append(user)
    return created
