"""Example plugin: a CMDB lookup that fills a ticket's owner team from its configuration item."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

SAMPLE = {"LAPTOP-0042": "desktop_support", "VPN-GW-1": "network_ops", "ERP-PROD": "application_support"}


def cmdb() -> Mapping[str, str]:
    path = os.environ.get("ITSM_CMDB_FILE")
    if not path:
        return SAMPLE
    with open(path, encoding="utf-8") as handle:
        return dict(json.load(handle))


def ci_owner(ci: Any) -> str | None:
    return cmdb().get(ci) if isinstance(ci, str) else None


def cmdb_owner(context: Any, args: Mapping[str, Any]) -> None:
    """Action: set args.set (default owner_team) from the owner of the item in args.field."""
    source = args.get("field", "configuration_item")
    target = args.get("set", "owner_team")
    ci = context.fields.get(source)
    owner = ci_owner(ci)
    if owner is None:
        if args.get("strict"):
            raise LookupError(f"configuration item {ci!r} is not in the CMDB")
        return
    context.set_field(target, owner)


class Plugin:
    actions = {"cmdb_owner": cmdb_owner}
    functions = {"ci_owner": ci_owner}
    field_types: dict[str, Any] = {}


plugin = Plugin()
