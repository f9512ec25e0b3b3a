"""Fixtures of the core's unit tests: the tiny pack compiled once, fresh look-ups per test."""

from __future__ import annotations

import pytest
from core_support import FakeLookups, tiny_pack

from itsm.engine.runtime.compiled import CompiledVersion
from itsm.engine.runtime.rules import Context


@pytest.fixture(scope="session")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledVersion:
    return tiny_pack(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def lookups() -> FakeLookups:
    return FakeLookups()


@pytest.fixture
def context(compiled: CompiledVersion, lookups: FakeLookups) -> Context:
    return Context(compiled, lookups)
