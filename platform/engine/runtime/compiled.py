"""A compiled definitions version: the pack and its processes' state machines, built once, frozen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from itsm.interpreter.model import PackSpec

from .machines import ProcessMachine


@dataclass(frozen=True)
class CompiledVersion:
    id: str
    pack: PackSpec
    machines: Mapping[str, ProcessMachine]


def compile_version(version_id: str, pack: PackSpec) -> CompiledVersion:
    """The version with a machine per process, built now (not on first use: nothing changes it later)."""
    machines = {process_id: ProcessMachine(process) for process_id, process in pack.processes.items()}
    return CompiledVersion(version_id, pack, MappingProxyType(machines))
