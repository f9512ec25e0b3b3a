"""Organizations (SPEC 14): which ids, names and mail domains are valid, refusing cycles, and `itsm org import`.

An import is planned from the file's rows and the organizations already stored (`plan_org_import`, no I/O:
the whole tree after the import is computed in memory, so parents may come in any order, cycles through the
database are found, and moving a unit rewrites the paths of everything under it), then written in one
transaction through `itsm.store.orgs` with bulk statements. Any problem in any row: nothing is written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from itsm.interpreter.errors import did_you_mean
from itsm.interpreter.schema import MAX_ORG_ID, ORG_ID_PATTERN
from itsm.store import Database
from itsm.store import orgs as stored
from itsm.store.models import utcnow

from ..errors import N_, BadRequest
from .import_files import BadValue, ImportFile, ImportRefused, Problem, Row, flag_value, read_import, text_value

ORG_COLUMNS = ("id", "name", "parent", "domains", "vip")
MAX_NAME = 200  # organizations.name
MAX_PATH = 2000  # organizations.path: the ids from the root, each with a slash
MAX_HINTS = 50  # "did you mean" for the first unknown parents only: each compares with every id
_ORG_ID = re.compile(ORG_ID_PATTERN)
_DOMAIN_LABEL = re.compile(r"[^\W_](?:[^\W_]|-){0,62}(?<!-)")  # as in mail addresses (people.users)
_SEPARATORS = re.compile(r"[\s,;，；、]+")


class StoredOrg(NamedTuple):
    """An organization as stored, as far as an import compares it."""

    id: str
    name: str
    parent: str | None
    path: str
    vip: bool


def check_org_id(org_id: str) -> None:
    if not _ORG_ID.fullmatch(org_id) or len(org_id) > MAX_ORG_ID:
        shown = org_id[:40] if org_id.isprintable() else repr(org_id[:40])
        raise BadRequest(N_("organization id '%(id)s' is not valid: lower-case letters a-z, digits and . _ - "
                            "(starting with a letter or a digit), at most %(most)s characters", id=shown,
                            most=MAX_ORG_ID))


def check_org_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise BadRequest(N_("an organization needs a name"))
    if len(name) > MAX_NAME or has_control_character(name):
        raise BadRequest(N_("organization name '%(name)s...' is longer than %(most)s characters or holds a "
                            "control character", name=name[:40], most=MAX_NAME))
    return name.strip()


def has_control_character(text: str) -> bool:
    """Tabs, line breaks and other control characters (a full-width space 　 in a name is fine)."""
    return any(unicodedata.category(char) == "Cc" for char in text)


def check_domain(domain: str) -> str:
    """A mail domain as the part after @ (`hz.gov.cn`, `政务.cn`), lower case."""
    domain = domain.strip().lower().removeprefix("@")
    labels = domain.split(".")
    if (len(domain) > 253 or len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
            or not any(char.isalpha() for char in labels[-1])):
        raise BadRequest(N_("'%(domain)s' is not a mail domain (such as hz.gov.cn)", domain=domain[:80]))
    return domain


def split_domains(value: Any) -> list[str]:
    """Domains as a file gives them: a list, or one text separated by spaces, commas or semicolons."""
    if value is None:
        return []
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise BadValue(N_("'domains' is a list of mail domains"))
        words = [word for item in value for word in _SEPARATORS.split(item)]
    elif isinstance(value, str):
        words = _SEPARATORS.split(value)
    else:
        raise BadValue(N_("'domains' is a list of mail domains"))
    return list(dict.fromkeys(check_domain(word) for word in words if word.strip()))


# -- planning an import ----------------------------------------------------------------------------------

@dataclass
class OrgImport:
    """What an import writes: new rows, changed rows (by id), and the full new domain list of each
    organization whose domains change; with the counts people are told."""

    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    domains: dict[str, list[str]] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)  # organizations of the file that change
    unchanged: int = 0
    moved: int = 0  # organizations of the file given another parent
    carried: int = 0  # organizations not in the file whose path changes because an ancestor moves
    problems: list[Problem] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message))


KEEP = "\0keep"  # a row without a `parent` (a JSON object that leaves it out): as stored, new ones roots


@dataclass
class _Wanted:
    line: int
    id: str
    name: str
    parent: str | None  # None: a root; KEEP: as stored
    vip: bool | None  # None: as stored (new: no)
    domains: list[str] | None  # None: as stored (new: none)


def plan_org_import(rows: Sequence[Row], existing: Mapping[str, StoredOrg], existing_domains: Mapping[str, str],
                    now: datetime) -> OrgImport:
    """The import of `rows` over the stored organizations (`existing` by id, `existing_domains` domain ->
    organization id): its writes, or its problems (then nothing is to be written)."""
    result = OrgImport()
    wanted = _rows(rows, result)
    for listed in wanted.values():
        if listed.parent == KEEP:
            listed.parent = existing[listed.id].parent if listed.id in existing else None
    _check_parents(wanted, existing, result)
    _check_domains(wanted, existing_domains, result)
    parents = {org.id: org.parent for org in existing.values()}
    parents.update({listed.id: listed.parent for listed in wanted.values()})
    paths = _check_tree(wanted, parents, result)
    if result.problems:
        return result
    stored_domains: dict[str, set[str]] = {}
    for domain, owner in existing_domains.items():
        stored_domains.setdefault(owner, set()).add(domain)
    for org_id, path in paths.items():
        old = existing.get(org_id)
        w = wanted.get(org_id)
        if old is None:
            assert w is not None
            result.created.append({"id": w.id, "name": w.name, "parent": w.parent, "path": path,
                                   "vip": bool(w.vip), "active": True, "created_at": now, "updated_at": now})
            if w.domains:
                result.domains[w.id] = w.domains
            continue
        name, vip = (w.name, old.vip if w.vip is None else w.vip) if w else (old.name, old.vip)
        parent = w.parent if w else old.parent
        if (name, parent, path, vip) != (old.name, old.parent, old.path, old.vip):
            result.updated.append({"b_id": org_id, "name": name, "parent": parent, "path": path, "vip": vip,
                                   "updated_at": now})
            if w is None:
                result.carried += 1
            else:
                result.changed.add(org_id)
                result.moved += parent != old.parent
        if w is not None and w.domains is not None and set(w.domains) != stored_domains.get(org_id, set()):
            result.domains[org_id] = w.domains
            result.changed.add(org_id)
    result.unchanged = len(wanted) - len(result.created) - len(result.changed)
    return result


def _rows(rows: Sequence[Row], result: OrgImport) -> dict[str, _Wanted]:
    wanted: dict[str, _Wanted] = {}
    lines: dict[str, int] = {}  # the line each id is first on, good row or not
    for row in rows:
        before = len(result.problems)
        org_id = _value(row, result, _org_id, row, "id")
        name = _value(row, result, _org_name, row)
        parent = _value(row, result, _org_id, row, "parent") if "parent" in row.values else KEEP
        domains = _value(row, result, split_domains, row.values["domains"]) if "domains" in row.values else None
        vip = _value(row, result, flag_value, row, "vip") if "vip" in row.values else None
        if org_id in lines:
            result.problem(row.line, N_("organization '%(id)s' is on line %(line)s already", id=org_id,
                                        line=lines[org_id]))
            continue
        if org_id is not None:
            lines[org_id] = row.line
        if len(result.problems) == before:
            wanted[org_id] = _Wanted(row.line, org_id, name, parent, vip, domains)
    return wanted


def _value(row: Row, result: OrgImport, read: Callable[..., Any], *args: Any) -> Any:
    """`read(*args)`, or None after noting its problem on the row's line."""
    try:
        return read(*args)
    except (BadRequest, BadValue) as exc:
        result.problem(row.line, exc.message)
        return None


def _org_id(row: Row, column: str) -> str | None:
    """The row's `id` (required) or `parent` (empty: a root)."""
    org_id = text_value(row, column)
    if org_id is None:
        if column == "parent":
            return None
        raise BadRequest(N_("an organization needs an id"))
    check_org_id(org_id)
    return org_id


def _org_name(row: Row) -> str:
    return check_org_name(text_value(row, "name"))


def _check_parents(wanted: Mapping[str, _Wanted], existing: Mapping[str, StoredOrg], result: OrgImport) -> None:
    hints = 0
    for w in wanted.values():
        if w.parent is None or w.parent in wanted or w.parent in existing:
            continue
        hint = ""
        if hints < MAX_HINTS:
            hints += 1
            hint = did_you_mean(w.parent, [*wanted, *existing])
        result.problem(w.line, N_("unknown parent '%(parent)s'%(hint)s: neither in this file nor stored",
                                  parent=w.parent, hint=hint))
        w.parent = None  # the tree is still checked, as if it were a root


def _check_domains(wanted: Mapping[str, _Wanted], existing_domains: Mapping[str, str], result: OrgImport) -> None:
    """A domain belongs to one organization: after the import, and within the file."""
    given: dict[str, _Wanted] = {}
    for w in wanted.values():
        for domain in w.domains or ():
            first = given.get(domain)
            if first is not None:
                result.problem(w.line, N_("mail domain '%(domain)s' is given to '%(other)s' on line %(line)s: "
                                          "a domain belongs to one organization", domain=domain, other=first.id,
                                          line=first.line))
                continue
            given[domain] = w
            owner = existing_domains.get(domain)
            if owner is not None and owner != w.id and (owner not in wanted or wanted[owner].domains is None):
                result.problem(w.line, N_("mail domain '%(domain)s' belongs to organization '%(other)s': "
                                          "a domain belongs to one organization (list it there no more, in this "
                                          "file, to move it)", domain=domain, other=owner))


def _check_tree(wanted: Mapping[str, _Wanted], parents: Mapping[str, str | None],
                result: OrgImport) -> dict[str, str]:
    """Every organization's path after the import; cycles and too long paths as problems of the file's rows."""
    children: dict[str | None, list[str]] = {}
    for org_id, parent in parents.items():
        children.setdefault(parent if parent in parents else None, []).append(org_id)
    paths: dict[str, str] = {}
    stack = [(org_id, "/") for org_id in children.get(None, ())]
    while stack:
        org_id, above = stack.pop()
        paths[org_id] = path = f"{above}{org_id}/"
        stack.extend((child, path) for child in children.get(org_id, ()))
    for w in wanted.values():
        if w.id not in paths:  # not reached from a root: on a cycle, or under one
            cycle = _cycle_from(w.id, parents)
            if cycle:
                result.problem(w.line, N_("organization '%(id)s' would be its own ancestor: %(cycle)s", id=w.id,
                                          cycle=" -> ".join(cycle)))
    too_long: set[int] = set()
    for org_id, path in paths.items():
        if len(path) > MAX_PATH:
            line = next((wanted[a].line for a in reversed(path.strip("/").split("/")) if a in wanted), None)
            if line is not None and line not in too_long:
                too_long.add(line)
                result.problem(line, N_("the path from the root to '%(id)s' would be longer than %(most)s "
                                        "characters: the tree is too deep", id=org_id, most=MAX_PATH))
    return paths


def _cycle_from(org_id: str, parents: Mapping[str, str | None]) -> list[str]:
    """`[a, b, c, a]` when following parents from `org_id` comes back to it; [] when it does not."""
    seen = [org_id]
    parent = parents.get(org_id)
    while parent is not None and parent not in seen:
        seen.append(parent)
        parent = parents.get(parent)
    return [*seen, org_id] if parent == org_id else []


# -- the adapter -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int
    moved: int = 0
    carried: int = 0
    written: bool = True


def import_orgs(db: Database, path: Path, *, source: str | None = None, dry_run: bool = False) -> ImportSummary:
    """Create or update the organizations of the file at `path` in one transaction; ImportRefused (every
    problem, by line) and nothing written when any row is wrong. `source` is the file's name in messages."""
    found = read_import(path, ORG_COLUMNS, ("id", "name"))
    return apply_org_rows(db, found, source or str(path), dry_run=dry_run)


def apply_org_rows(db: Database, found: ImportFile, source: str, *, dry_run: bool = False) -> ImportSummary:
    if found.problems:
        raise ImportRefused(source, found.problems)
    with db.write() as session:
        stored.lock_tree(session)
        existing = {row.id: StoredOrg(row.id, row.name, row.parent, row.path, bool(row.vip))
                    for row in stored.all_rows(session)}
        planned = plan_org_import(found.rows, existing, stored.all_domains(session), utcnow())
        if planned.problems:
            raise ImportRefused(source, planned.problems)
        if not dry_run:
            stored.insert_many(session, planned.created)
            stored.update_many(session, planned.updated)
            stored.replace_domains(session, planned.domains)
    return ImportSummary(len(planned.created), len(planned.changed), planned.unchanged, planned.moved, planned.carried,
                         written=not dry_run)


def org_rows(orgs: Mapping[str, Mapping[str, Any]]) -> ImportFile:
    """Organizations given as id -> {name, parent, vip} (a scenario's `orgs`), as rows of an import."""
    return ImportFile([Row(0, {"id": org_id, "name": attributes.get("name") or org_id,
                               "parent": attributes.get("parent"), "vip": bool(attributes.get("vip"))})
                       for org_id, attributes in orgs.items()])


__all__ = ["ImportSummary", "OrgImport", "StoredOrg", "apply_org_rows", "check_domain", "check_org_id",
           "check_org_name", "import_orgs", "org_rows", "plan_org_import", "split_domains"]
