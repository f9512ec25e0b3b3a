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

from itsm.interpreter.model import Calendar, Duration, PackSpec, ProcessSpec
from itsm.sla import working_calendar
from itsm.store import Database, DefinitionsVersion, orgs, tickets, timers, users, versions
from itsm.store.models import utcnow

from ..errors import N_, NotFound, PublishRefused, joined
from .clocks import timed_calendar
from .compiled import CompiledVersion, compile_version
from .urgency import priority_ranks

MAX_CACHED_VERSIONS = 8


@dataclass(frozen=True)
class PublishResult:
    version: str
    activated: bool
    renamed: dict[str, int]  # "process:old->new" (states) or "team:old->new" -> tickets moved
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


def missing_users(session: Any, pack: PackSpec) -> tuple[str, ...]:
    """A warning line per place the pack names a user the database lacks (SPEC 4: not an error; routing
    passes over such a member until the user exists)."""
    known = users.existing_names(session, {named.name for named in pack.named_users})
    return tuple(f"{named.where}: warning: {named.subject}: {named.path}: no user '{named.name}' in the database: "
                 f"nothing is assigned to them until the user is created (itsm user add, itsm user import)"
                 for named in pack.named_users if named.name not in known)


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
            warnings = missing_organizations(session, pack) + missing_users(session, pack)
            if current is not None and current.id == pack.digest:
                current.git_commit = current.git_commit or git_commit  # now committed: say which commit
                return PublishResult(pack.digest, False, {}, N_("version %(version)s is already active",
                                                                version=pack.digest[:12]), warnings)
            renamed = self._check_and_rename(session, pack, actor or "system")
            row = versions.stored(session, pack.digest, pack.id, list(pack.source), git_commit, actor)
            versions.activate(session, row)
            old = self._pack_of(current)
            self._recheck_clocks(session, old, pack)
            self._replan_timers(session, old, pack)
            self._rank_priorities(session, old, pack)
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
            warnings = missing_organizations(session, pack) + missing_users(session, pack)
            renamed = self._check_and_rename(session, pack, actor or "system")
            current = versions.active(session)
            versions.activate(session, row)
            old = self._pack_of(current)
            self._recheck_clocks(session, old, pack)
            self._replan_timers(session, old, pack)
            self._rank_priorities(session, old, pack)
        self._active = None
        return PublishResult(row.id, True, renamed, N_("rolled back to version %(version)s", version=row.id[:12]),
                             warnings)

    def _pack_of(self, version: DefinitionsVersion | None) -> PackSpec | None:
        if version is None:
            return None
        cached = self._cache.get(version.id)
        return cached.pack if cached is not None else compile_documents(version.source)

    @staticmethod
    def _recheck_clocks(session: Any, old: PackSpec | None, pack: PackSpec) -> None:
        """SPEC 7: open clocks keep their elapsed time and take their targets from the new version. When its
        SLA policies, calendars or policy rules differ, the running and paused clocks of open tickets are due
        at once (since their last step), so the worker re-evaluates them: new deadlines, warnings, breaches."""
        if old is None:
            return
        if (old.sla_policies == pack.sla_policies and old.calendars == pack.calendars
                and {p: s.sla for p, s in old.processes.items()} == {p: s.sla for p, s in pack.processes.items()}):
            return
        versions.open_clocks_due_now(session)

    @staticmethod
    def _rank_priorities(session: Any, old: PackSpec | None, pack: PackSpec) -> None:
        """The open tickets' `priority_rank` (the queue's urgency order) follows the new version's levels:
        written again when their order changed (the first version ranks whatever tickets there are)."""
        if old is not None:
            if all(priority_ranks(old, p) == priority_ranks(pack, p) for p in pack.processes.values()):
                return
        for process in pack.processes.values():
            tickets.rank_priorities(session, process.id, priority_ranks(pack, process))

    @staticmethod
    def _replan_timers(session: Any, old: PackSpec | None, pack: PackSpec) -> None:
        """SPEC 7: pending timed transitions are re-planned from the new version. Where the timed transitions
        out of a state (or the calendar they count on) differ, the open tickets in that state get the new
        version's timers, due `after` from when they entered it: a changed `after:` or calendar moves them, a
        new one is planned, a removed one is dropped; a timer that already fired stays fired."""
        if old is None:
            return
        for process_id, state, _count in versions.open_per_state(session):
            process = pack.processes.get(process_id)
            if process is None or state not in process.state_by_id:
                continue
            planned = timed_plan(pack, process, state)
            before = old.processes.get(process_id)
            was = timed_plan(old, before, state) if before is not None and state in before.state_by_id else None
            if planned == was:
                continue
            waiting = timers.open_in_state(session, process_id, state)
            ids = [ticket_id for ticket_id, _ in waiting]
            fired = timers.fired_keys(session, ids) if planned is not None else set()
            rows: list[dict[str, Any]] = []
            if planned is not None:
                calendar = working_calendar(planned[0])
                for ticket_id, entered in waiting:
                    rows.extend({"ticket_id": ticket_id, "kind": "transition", "key": key,
                                 "due_at": calendar.deadline(entered, after)}
                                for key, after in planned[1] if (ticket_id, key) not in fired)
            timers.replan(session, ids, rows)

    @staticmethod
    def _check_and_rename(session: Any, pack: PackSpec, actor: str) -> dict[str, int]:
        """Refuse (with counts per state and per team) when open tickets would sit in a state or on a team the
        pack lacks; move those that `renamed_states` and `renamed_teams` map, each with an event under the new
        version (SPEC 7)."""
        stranded: Counter[str] = Counter()
        moves: Counter[tuple[str, str, str]] = Counter()
        team_moves: dict[str, str] = {}
        orphaned: Counter[str] = Counter()
        for process_id, state, team, count in versions.open_per_place(session):
            process = pack.processes.get(process_id)
            if process is None:
                stranded[f"{process_id} (process removed): {state}"] += count
                continue  # each ticket is counted once: by its state first
            if state not in process.state_by_id:
                target = process.renamed_states.get(state)
                if target is None:
                    stranded[f"{process_id}: {state}"] += count
                    continue
                moves[(process_id, state, target)] += count
            if team is None or team in pack.teams:
                continue
            if team in pack.renamed_teams:
                team_moves[team] = pack.renamed_teams[team]
            else:
                orphaned[team] += count
        if stranded or orphaned:
            raise _refusal(stranded, orphaned)
        renamed = {}
        now = utcnow()
        for (process_id, old, new), count in moves.items():
            versions.rename_state(session, process_id, old, new, now, actor, pack.digest)
            renamed[f"{process_id}:{old}->{new}"] = count
        for old, new in team_moves.items():
            members = {member.user for member in pack.teams[new].members}
            moved = [{"id": ticket_id, "old_team": old, "new_team": new, "old_assignee": assignee,
                      # an assignee who is not in the new team would hold a ticket their team cannot see
                      "new_assignee": assignee if assignee in members else None}
                     for ticket_id, assignee in versions.open_on_team(session, old)]
            versions.move_to_team(session, moved, now, actor, pack.digest)
            renamed[f"team:{old}->{new}"] = len(moved)
        return renamed


TimedPlan = tuple[Calendar, tuple[tuple[str, Duration], ...]]


def timed_plan(pack: PackSpec, process: ProcessSpec, state: str) -> TimedPlan | None:
    """The timed transitions out of `state` (id, after) and the calendar they count on; None when none."""
    timed = tuple((t.id, t.after) for t in process.transitions_from(state) if t.after is not None)
    return (pack.calendars[timed_calendar(pack, process)], timed) if timed else None


def _refusal(states: Counter[str], teams: Counter[str]) -> PublishRefused:
    def counted(where: str, n: int) -> str:
        return (N_("%(where)s: %(count)s open ticket", where=where, count=n) if n == 1 else
                N_("%(where)s: %(count)s open tickets", where=where, count=n))

    parts = []
    if states:
        parts.append(N_("publishing would strand open tickets in states the new version lacks "
                        "(add them back, or map them in renamed_states): %(states)s",
                        states=joined([counted(where, n) for where, n in sorted(states.items())])))
    if teams:
        parts.append(N_("publishing would strand open tickets on teams the new version lacks "
                        "(add them back, or map them in renamed_teams on the pack document): %(teams)s",
                        teams=joined([counted(f"team {team}", n) for team, n in sorted(teams.items())])))
    details = [{"state": where, "open_tickets": n} for where, n in sorted(states.items())]
    details += [{"team": team, "open_tickets": n} for team, n in sorted(teams.items())]
    return PublishRefused(parts[0] if len(parts) == 1 else joined(parts), details)


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
