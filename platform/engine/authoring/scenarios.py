"""Running scenarios (SPEC 4 scenario): a pack's process tests, on a throwaway database, with a clock the
scenario moves. Moving the clock runs the worker at every due instant on the way, so warnings, breaches
and timed transitions happen when they would in production."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from itsm.interpreter.model import PackSpec, ScenarioSpec, ScenarioStep
from itsm.interpreter.scenarios import NOTIFIED, parse_instant
from itsm.store import Database, outbox
from itsm.store.schedule import next_due

from ..errors import EngineError
from ..people.import_files import ImportRefused
from ..people.orgs import apply_org_rows, org_rows
from ..people.users import add_user
from ..runtime.actors import SYSTEM
from ..runtime.engine import Engine
from ..runtime.sweep import sweep_due

EPSILON = timedelta(microseconds=1)  # the worker acts on what is strictly past due
DEFAULT_START = datetime(2026, 1, 5, 9, 0)  # a Monday morning, in the pack's zone


@dataclass
class StepFailure:
    step: int
    where: str
    message: str

    def __str__(self) -> str:
        return f"step {self.step} ({self.where}): {self.message}"


@dataclass
class ScenarioResult:
    id: str
    steps: int
    failures: list[StepFailure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures


class ScenarioClock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def scenario_users(pack: PackSpec, scenario: ScenarioSpec) -> dict[str, Mapping[str, Any]]:
    """Every user named anywhere: the scenario's own, team members, actors and requesters of its steps."""
    users: dict[str, Mapping[str, Any]] = {m.user: {} for team in pack.teams.values() for m in team.members
                                           if m.user != SYSTEM}
    users.update({team.lead: {} for team in pack.teams.values() if team.lead and team.lead not in users})
    for step in scenario.steps:
        create = step.data.get("create") or {}
        for name in (step.data.get("as"), create.get("as"), create.get("requester"), step.data.get("watch")):
            if name and name != SYSTEM:
                users.setdefault(name, {})
    users.update({name: attributes for name, attributes in scenario.users.items() if name != SYSTEM})
    return users


def scenario_orgs(scenario: ScenarioSpec, users: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The scenario's organizations, and a root organization for each other one a user names (scenarios
    written before organizations were records name them freely)."""
    orgs: dict[str, Mapping[str, Any]] = dict(scenario.orgs)
    for attributes in users.values():
        org = attributes.get("org")
        if org and org not in orgs:
            orgs[org] = {}
    return orgs


@contextmanager
def throwaway_engine(pack: PackSpec, start: datetime) -> Iterator[tuple[Engine, ScenarioClock]]:
    with tempfile.TemporaryDirectory(prefix="itsm-scenario-") as folder:
        db = Database(f"sqlite:///{Path(folder) / 'scenario.db'}")
        db.upgrade()
        clock = ScenarioClock(start)
        engine = Engine(db, clock=clock)
        engine.definitions.publish(pack)
        try:
            yield engine, clock
        finally:
            db.dispose()


def run_scenario(pack: PackSpec, scenario: ScenarioSpec) -> ScenarioResult:
    started = time.perf_counter()
    zone = ZoneInfo(pack.timezone)
    start = scenario.start or DEFAULT_START.replace(tzinfo=zone)
    result = ScenarioResult(scenario.id, len(scenario.steps))
    with throwaway_engine(pack, start) as (engine, clock):
        users = scenario_users(pack, scenario)
        try:
            apply_org_rows(engine.db, org_rows(scenario_orgs(scenario, users)), "orgs")
        except ImportRefused as refused:  # checked when the pack loaded: only what the engine alone refuses
            result.failures.extend(StepFailure(0, "orgs", problem.message) for problem in refused.problems)
        for name, attributes in users.items() if not result.failures else ():
            try:
                add_user(engine.db, name, email=attributes.get("email"), admin=bool(attributes.get("admin")),
                         vip=bool(attributes.get("vip")), org=attributes.get("org"),
                         full_name=attributes.get("full_name"), org_contact=bool(attributes.get("org_contact")))
            except EngineError as exc:  # a name or address no user may have: the scenario cannot run
                result.failures.append(StepFailure(0, "users", exc.message))
        if result.failures:
            result.seconds = time.perf_counter() - started
            return result
        runner = _Runner(engine, clock)
        for step in scenario.steps:
            failure = runner.run(step)
            if failure is not None:
                result.failures.append(failure)
                break  # later steps build on this one: stop at the first failure
    result.seconds = time.perf_counter() - started
    return result


class _Runner:
    def __init__(self, engine: Engine, clock: ScenarioClock):
        self.engine = engine
        self.clock = clock
        self.tickets: list[str] = []

    def run(self, step: ScenarioStep) -> StepFailure | None:
        def fail(message: str) -> StepFailure:
            return StepFailure(step.index, step.where, message)

        with self.engine.db.read() as session:
            queued_before = outbox.last_id(session)
        if step.at is not None:
            if step.at < self.clock.now:
                return fail(f"'at' goes back in time ({step.at.isoformat()} is before {self.clock.now.isoformat()})")
            self.move_to(step.at)
        elif step.advance is not None:
            self.move_to(self.clock.now + timedelta(seconds=step.advance.seconds))
        data = step.data
        wanted = data.get("ticket")
        if wanted is not None and not 1 <= wanted <= len(self.tickets):
            return fail(f"there is no ticket {wanted}: {len(self.tickets)} created so far")
        try:
            number = self.act(step)
        except EngineError as exc:
            if step.expect_error is None:
                return fail(f"unexpected error {exc.status}: {exc.message}")
            if exc.status != step.expect_error:
                return fail(f"expected error {step.expect_error}, got {exc.status}: {exc.message}")
            return None
        if step.expect_error is not None:
            return fail(f"expected error {step.expect_error}, but the step succeeded")
        if not step.expect:
            return None
        expect = {path: value for path, value in step.expect.items() if path not in NOTIFIED}
        if any(path in step.expect for path in NOTIFIED):
            with self.engine.db.read() as session:
                queued = outbox.queued_after(session, queued_before)
            problem = notified_problem(step.expect, queued)
            if problem is not None:
                return fail(problem)
        if not expect:
            return None
        if number is None:
            return fail("nothing to check: no ticket has been created yet")
        view = self.engine.get(self.engine.actor(SYSTEM), number)
        for path, expected in expect.items():
            actual = lookup(view, str(path))
            if not matches(expected, actual):
                return fail(f"{path}: expected {expected!r}, got {actual!r}")
        del data
        return None

    def act(self, step: ScenarioStep) -> str | None:
        data = step.data
        actor = self.engine.actor(data.get("as") or SYSTEM)
        if "create" in data:
            create = data["create"]
            actor = self.engine.actor(create.get("as") or data.get("as") or SYSTEM)
            ticket = self.engine.create(actor, create["process"], create.get("fields", {}), create.get("requester"))
            self.tickets.append(ticket["number"])
            return str(ticket["number"])
        number = self.ticket(data.get("ticket"))
        if number is None:
            return None
        if "transition" in data:
            self.engine.fire(actor, number, data["transition"], data.get("fields", {}), data.get("comment"))
        elif "update" in data:
            self.engine.update(actor, number, data["update"])
        elif "comment" in data:
            self.engine.comment(actor, number, data["comment"], bool(data.get("internal")))
        elif "watch" in data or "unwatch" in data:
            self.engine.watch(actor, number, data.get("watch") or data["unwatch"], follow="watch" in data)
        return number

    def ticket(self, index: int | None) -> str | None:
        if not self.tickets:
            return None
        return self.tickets[(index or len(self.tickets)) - 1]

    def move_to(self, target: datetime) -> None:
        """Advance to `target`, letting the worker act at each due instant on the way, in order."""
        while True:
            due = self.next_due()
            if due is None or due >= target:
                break
            self.clock.now = max(self.clock.now, due + EPSILON)
            sweep_due(self.engine)
        self.clock.now = target
        sweep_due(self.engine)

    def next_due(self) -> datetime | None:
        with self.engine.db.read() as session:
            return next_due(session)


def notified_problem(expect: Mapping[str, Any], queued: list[tuple[str, list[str]]]) -> str | None:
    """SPEC 4 `notified:` / `not_notified:`: each item a notification id, or {id, to: [names]} whose names
    (user names, team:ID, addresses) must all be among one queued message's recipients."""
    def found(item: Any) -> bool:
        ident, names = (item.get("id"), item.get("to") or []) if isinstance(item, Mapping) else (item, [])
        return any(notification == ident and all(f"user:{name}" in recipients or name in recipients
                                                 for name in names)
                   for notification, recipients in queued)

    def said() -> str:
        return "; ".join(f"{notification} to {', '.join(recipients) or 'nobody'}"
                         for notification, recipients in queued) or "nothing"

    for item in expect.get("notified") or []:
        if not found(item):
            return f"notified: expected {_item_text(item)} to be queued in this step; queued: {said()}"
    for item in expect.get("not_notified") or []:
        if found(item):
            return f"not_notified: {_item_text(item)} was queued in this step; queued: {said()}"
    return None


def _item_text(item: Any) -> str:
    if isinstance(item, Mapping):
        return f"{item.get('id')!r} to {', '.join(map(str, item.get('to') or [])) or 'anyone'}"
    return repr(item)


def lookup(view: Mapping[str, Any], path: str) -> Any:
    """SPEC 4: `state`, `priority`, `team`, `assignee`, `fields.X` or `X`, `sla.CLOCK.field`."""
    if path in view and path not in ("fields", "sla"):
        return view[path]
    parts = path.split(".")
    if parts[0] == "fields":
        return view["fields"].get(".".join(parts[1:]))
    if parts[0] == "sla" and len(parts) == 3:
        return (view.get("sla", {}).get(parts[1]) or {}).get(parts[2])
    return view["fields"].get(path)


def matches(expected: Any, actual: Any) -> bool:
    """Instants compare as instants, numbers as numbers; the rest by equality."""
    if isinstance(expected, str) and isinstance(actual, str):
        a, b = parse_instant(expected), parse_instant(actual)
        if a is not None and b is not None:
            return a == b
    if isinstance(expected, int | float) and isinstance(actual, int | float) and not isinstance(expected, bool):
        return math.isclose(float(expected), float(actual), abs_tol=1e-6)
    return bool(expected == actual)

