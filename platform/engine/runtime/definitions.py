"""Definitions versions (SPEC 7): publish, roll back, and follow the active version from any process.

Compiled versions are cached by id; each process checks which version is active at most once every
`poll_seconds`, so a publish on one host reaches every other host within seconds.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from itsm.interpreter.model import PackSpec
from itsm.store import Database, DefinitionsVersion, orgs, versions
from itsm.store.models import utcnow

from ..errors import N_, NotFound, PublishRefused, joined
from .compiled import CompiledVersion, compile_version

MAX_CACHED_VERSIONS = 8


@dataclass(frozen=True)
class PublishResult:
    version: str
    activated: bool
    renamed: dict[str, int]  # "process:old->new" -> tickets moved
    message: str
    warnings: tuple[str, ...] = ()  # FILE:LINE:COL: warning: lines about what the database lacks


def missing_organizations(session: Any, pack: PackSpec) -> tuple[str, ...]:
    """A warning line per team whose `org_scope` names no organization in the database (organizations are
    records, not pack documents: the pack is valid, but the team serves nobody until the organization is
    created)."""
    scoped = [team for team in pack.teams.values() if team.org_scope is not None]
    known = orgs.paths_of(session, {team.org_scope for team in scoped if team.org_scope is not None})
    return tuple(f"{team.where}: warning: team/{team.id}: org_scope: no organization '{team.org_scope}' in the "
                 f"database: the team sees and is routed no ticket until it exists (itsm org import)"
                 for team in sorted(scoped, key=lambda t: t.id) if team.org_scope not in known)


class Definitions:
    def __init__(self, db: Database, poll_seconds: float = 1.0):
        self.db = db
        self.poll_seconds = poll_seconds
        self._cache: dict[str, CompiledVersion] = {}
        self._active: tuple[str, float] | None = None  # (version id, monotonic time checked)
        self._lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------------------

    def active_id(self) -> str:
        now = time.monotonic()
        cached = self._active
        if cached is not None and now - cached[1] < self.poll_seconds:
            return cached[0]
        with self.db.read() as session:
            version = versions.active_id(session)
        if version is None:
            raise NotFound(N_("no definitions version is published yet: run `itsm publish`"))
        self._active = (version, now)
        return version

    def active(self) -> CompiledVersion:
        return self.get(self.active_id())

    def get(self, version_id: str) -> CompiledVersion:
        compiled = self._cache.get(version_id)
        if compiled is not None:
            return compiled
        with self._lock:
            compiled = self._cache.get(version_id)
            if compiled is None:
                with self.db.read() as session:
                    source = versions.source_of(session, version_id)
                if source is None:
                    raise NotFound(N_("no definitions version '%(version)s'", version=version_id))
                compiled = compile_version(version_id, compile_documents(source))
                if len(self._cache) >= MAX_CACHED_VERSIONS:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[version_id] = compiled
        return compiled

    def versions(self) -> list[dict[str, Any]]:
        with self.db.read() as session:
            rows = versions.all_versions(session)
            return [{"id": r.id, "pack": r.pack_id, "git_commit": r.git_commit, "created_at": r.created_at,
                     "activated_at": r.activated_at, "active": r.is_active} for r in rows]

    # -- publishing --------------------------------------------------------------------------------

    def publish_path(self, path: str | Path, actor: str | None = None) -> PublishResult:
        """Validate the pack at `path` (PackError when invalid) and publish it."""
        pack = load_pack(path)
        return self.publish(pack, git_commit=git_commit_of(Path(path)), actor=actor)

    def publish(self, pack: PackSpec, git_commit: str | None = None, actor: str | None = None) -> PublishResult:
        with self.db.write() as session:
            versions.serialize(session)
            current = versions.active(session)
            warnings = missing_organizations(session, pack)
            if current is not None and current.id == pack.digest:
                current.git_commit = current.git_commit or git_commit  # now committed: say which commit
                return PublishResult(pack.digest, False, {}, N_("version %(version)s is already active",
                                                                version=pack.digest[:12]), warnings)
            renamed = self._check_and_rename(session, pack, actor or "system")
            row = versions.stored(session, pack.digest, pack.id, list(pack.source), git_commit, actor)
            versions.activate(session, row)
            self._recheck_clocks(session, current, pack)
        self._cache.setdefault(pack.digest, compile_version(pack.digest, pack))
        self._active = None
        return PublishResult(pack.digest, True, renamed, N_("published version %(version)s", version=pack.digest[:12]),
                             warnings)

    def rollback(self, version_id: str, actor: str | None = None) -> PublishResult:
        """Re-activate an earlier version (a unique prefix of its id is enough)."""
        with self.db.write() as session:
            versions.serialize(session)
            matches = versions.starting_with(session, version_id) if version_id else []
            if len(matches) != 1:
                raise NotFound(N_("no definitions version '%(version)s'", version=version_id) if not matches else
                               N_("'%(version)s' matches %(count)s versions: give more characters",
                                  version=version_id, count=len(matches)))
            row = matches[0]
            if row.is_active:
                return PublishResult(row.id, False, {}, N_("version %(version)s is already active",
                                                           version=row.id[:12]))
            pack = compile_documents(row.source)
            warnings = missing_organizations(session, pack)
            renamed = self._check_and_rename(session, pack, actor or "system")
            current = versions.active(session)
            versions.activate(session, row)
            self._recheck_clocks(session, current, pack)
        self._active = None
        return PublishResult(row.id, True, renamed, N_("rolled back to version %(version)s", version=row.id[:12]),
                             warnings)

    def _recheck_clocks(self, session: Any, previous: DefinitionsVersion | None, pack: PackSpec) -> None:
        """SPEC 7: open clocks keep their elapsed time and take their targets from the new version. When its
        SLA policies, calendars or policy rules differ, the running and paused clocks of open tickets are due
        at once (since their last step), so the worker re-evaluates them: new deadlines, warnings, breaches."""
        if previous is None:
            return
        cached = self._cache.get(previous.id)
        old = cached.pack if cached is not None else compile_documents(previous.source)
        if (old.sla_policies == pack.sla_policies and old.calendars == pack.calendars
                and {p: s.sla for p, s in old.processes.items()} == {p: s.sla for p, s in pack.processes.items()}):
            return
        versions.open_clocks_due_now(session)

    @staticmethod
    def _check_and_rename(session: Any, pack: PackSpec, actor: str) -> dict[str, int]:
        """Refuse (with counts per state) when open tickets would sit in a state the pack lacks; move those
        that `renamed_states` maps, each with a `rename` event under the new version (SPEC 7)."""
        counts = versions.open_per_state(session)
        stranded: Counter[str] = Counter()
        moves: list[tuple[str, str, str, int]] = []
        for process_id, state, count in counts:
            process = pack.processes.get(process_id)
            if process is None:
                stranded[f"{process_id} (process removed): {state}"] += count
            elif state not in process.state_by_id:
                target = process.renamed_states.get(state)
                if target is None:
                    stranded[f"{process_id}: {state}"] += count
                else:
                    moves.append((process_id, state, target, count))
        if stranded:
            lines = [N_("%(where)s: %(count)s open ticket", where=where, count=n) if n == 1 else
                     N_("%(where)s: %(count)s open tickets", where=where, count=n)
                     for where, n in sorted(stranded.items())]
            raise PublishRefused(N_("publishing would strand open tickets in states the new version lacks "
                                    "(add them back, or map them in renamed_states): %(states)s",
                                    states=joined(lines)),
                                 [{"state": where, "open_tickets": n} for where, n in sorted(stranded.items())])
        renamed = {}
        now = utcnow()
        for process_id, old, new, count in moves:
            versions.rename_state(session, process_id, old, new, now, actor, pack.digest)
            renamed[f"{process_id}:{old}->{new}"] = count
        return renamed


def git_commit_of(path: Path) -> str | None:
    """The HEAD commit when `path` and every base it extends lie in one git work tree with no uncommitted
    changes under them: only then does the commit say what was published."""
    from itsm.interpreter.overlay import load_merged

    try:
        top = None
        for folder in load_merged(path, []).chain:
            root = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True,
                                  text=True, timeout=10)
            status = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=folder,
                                    capture_output=True, text=True, timeout=10)
            if root.returncode != 0 or top not in (None, root.stdout) or status.returncode != 0 \
                    or status.stdout.strip():
                return None
            top = root.stdout
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=10)
        return head.stdout.strip() or None if head.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def describe_time(value: datetime | None) -> str:
    return value.isoformat() if value else "-"


def compile_documents(source: Any) -> PackSpec:
    """`loader.compile_documents`, imported with the first pack compiled (YAML and its checks are a tenth of
    a second of every process's start otherwise)."""
    from itsm.interpreter.loader import compile_documents as compile_source

    return compile_source(source)


def load_pack(path: str | Path) -> PackSpec:
    """`loader.load_pack`, imported with the first pack read."""
    from itsm.interpreter.loader import load_pack as load

    return load(path)
