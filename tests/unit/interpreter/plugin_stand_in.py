"""A plugin the golden tests register themselves (test_golden.py), under the name and with the action and
function names that tests/packs/valid/cmdb_plugin enables: the golden tests check how the loader treats
plugins, so they must not depend on which plugins happen to be installed. The example plugin itself
(plugins/itsm_cmdb) is exercised by tests/integration/test_plugins.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OWNERS = {"LAPTOP-0042": "desktop_support"}


def ci_owner(ci: Any) -> str | None:
    return OWNERS.get(ci) if isinstance(ci, str) else None


def cmdb_owner(context: Any, args: Mapping[str, Any]) -> None:
    owner = ci_owner(context.fields.get(args.get("field", "configuration_item")))
    if owner is not None:
        context.set_field(args.get("set", "owner_team"), owner)


class Plugin:
    actions = {"cmdb_owner": cmdb_owner}
    functions = {"ci_owner": ci_owner}
    field_types: dict[str, Any] = {}


plugin = Plugin()
