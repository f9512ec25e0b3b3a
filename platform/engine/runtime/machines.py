"""State machines from compiled processes, built once per process and definitions version (FINDINGS).

Callbacks are callables built here from the compiled model, never strings: `transitions` imports a
string callback as a dotted path. The machine holds no tickets (model=None); each fire passes one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transitions import EventData, Machine

from itsm.interpreter.model import Action, ProcessSpec

# (actions, phase, event data) -> None; the engine supplies it and finds its context in event.kwargs
ActionRunner = Callable[[tuple[Action, ...], str, EventData], None]


class StateModel:
    """The thing `transitions` moves: a state attribute, nothing else."""

    __slots__ = ("state",)

    def __init__(self, state: str):
        self.state = state


def build_machine(process: ProcessSpec, run_actions: ActionRunner) -> Machine:
    machine = Machine(model=None, states=[s.id for s in process.states], initial=None,
                      auto_transitions=False, send_event=True, ignore_invalid_triggers=False)
    for state in process.states:
        machine_state = machine.get_state(state.id)
        if state.on_exit:
            machine_state.on_exit.append(_runner(run_actions, state.on_exit, f"on_exit of {state.id}"))
        if state.on_enter:
            machine_state.on_enter.append(_runner(run_actions, state.on_enter, f"on_enter of {state.id}"))
    for transition in process.transitions:
        after: list[str | Callable[..., bool | None]] = (
            [_runner(run_actions, transition.actions, f"actions of {transition.id}")] if transition.actions else [])
        machine.add_transition(transition.id, source=list(transition.sources), dest=transition.target, after=after)
    return machine


def _runner(run_actions: ActionRunner, actions: tuple[Action, ...], phase: str) -> Callable[[EventData], None]:
    def run(event: EventData) -> None:
        run_actions(actions, phase, event)

    return run


def fire(machine: Machine, transition: str, state: str, **context: Any) -> str:
    """Move a state through `transition`, running the callbacks; returns the new state."""
    model = StateModel(state)
    machine.events[transition].trigger(model, **context)
    return model.state
