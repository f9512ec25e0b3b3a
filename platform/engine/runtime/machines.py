"""State machines of compiled processes: the one module that uses `transitions` (FINDINGS).

One `Machine` per process and definitions version, built when the version is compiled (`compiled.py`) and
shared by every request: model=None, and each change fires on a throwaway `StateModel`. Callbacks are
callables built here from the compiled model, never strings (`transitions` imports a string callback as a
dotted path). The order of a fire: the source's on_exit actions, the state change on the working copy
(`Work.enter_state`, an explicit callback), the target's on_enter actions, the transition's actions. A new
ticket enters its initial state through the same machine, from the pseudo state `NEW`.
"""

from __future__ import annotations

from collections.abc import Callable

from transitions import EventData, Machine

from itsm.interpreter.model import Action, ProcessSpec

from .actions import run_actions
from .work import Work

NEW = "<new>"  # where a ticket is before it exists: no YAML id can be spelled like this
CREATE = "<create>"


class StateModel:
    """The thing `transitions` moves: a plain state attribute, nothing else."""

    __slots__ = ("state",)

    def __init__(self, state: str):
        self.state = state


class ProcessMachine:
    """A process's machine, fired for one working copy at a time."""

    __slots__ = ("_machine",)

    def __init__(self, process: ProcessSpec):
        machine = Machine(model=None, states=[NEW, *(s.id for s in process.states)], initial=None,
                          auto_transitions=False, send_event=True, ignore_invalid_triggers=False)
        for state in process.states:
            machine_state = machine.get_state(state.id)
            if state.on_exit:
                machine_state.on_exit.append(_runner(state.on_exit))
            machine_state.on_enter.append(_enter)
            if state.on_enter:
                machine_state.on_enter.append(_runner(state.on_enter))
        machine.add_transition(CREATE, source=NEW, dest=process.initial)
        for transition in process.transitions:
            after: list[str | Callable[..., bool | None]] = [_runner(transition.actions)] if transition.actions else []
            machine.add_transition(transition.id, source=list(transition.sources), dest=transition.target,
                                   after=after)
        self._machine = machine

    def fire(self, transition: str, work: Work) -> None:
        """Move the working copy through `transition`: exit, state change, enter, transition actions."""
        self._machine.events[transition].trigger(StateModel(work.ticket.state), work=work)

    def create(self, work: Work) -> None:
        """Enter the initial state of a new ticket: its on_enter actions."""
        self._machine.events[CREATE].trigger(StateModel(NEW), work=work)


def _enter(event: EventData) -> None:
    transition = event.transition
    assert transition is not None and transition.dest is not None
    event.kwargs["work"].enter_state(transition.dest)


def _runner(actions: tuple[Action, ...]) -> Callable[[EventData], None]:
    def run(event: EventData) -> None:
        run_actions(event.kwargs["work"], actions)

    return run
