"""Field patterns that backtrack exponentially are refused at load (a requester's text would stall a worker)."""

from __future__ import annotations

import re
import time

import pytest

from itsm.interpreter.forms import backtracks_exponentially

CATASTROPHIC = [r"^(a+)+$", r"^(\w+\s?)+$", r"(a*)*", r"^([a-zA-Z0-9]+[a-zA-Z0-9.]*)+$", r"(x+x+)+y",
                r"^(([a-zA-Z0-9\-])+\.)+([a-zA-Z0-9]{2,4})+$"]  # the last: a classic e-mail pattern
LINEAR = [r"^INC[0-9]{7,}$", r"^\+?[0-9 ()/-]{5,30}$", r"^([a-z]+\.)+[a-z]{2,}$", r"^\d+(,\d+)*$",
          r"(\w+(,|;))+", r"^[^@]+@[^@]+$", r"^(\d{3})+$", r"^(\+?\d)+$", r"^\w+( \w+)*$"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_nested_open_ended_repetition_is_found(pattern: str) -> None:
    assert backtracks_exponentially(pattern)


@pytest.mark.parametrize("pattern", LINEAR)
def test_patterns_with_a_separator_each_round_or_no_nesting_pass(pattern: str) -> None:
    assert not backtracks_exponentially(pattern)
    started = time.perf_counter()
    re.search(pattern, "a" * 5000 + "!")
    assert time.perf_counter() - started < 0.5


def test_the_rewrite_the_error_suggests_passes() -> None:
    assert backtracks_exponentially(r"^(\w+ ?)+$") and not backtracks_exponentially(r"^\w+( \w+)*$")


def test_bounded_nesting_is_polynomial_and_left_alone() -> None:
    assert not backtracks_exponentially(r"^(a+){2,3}$")  # slow on huge texts, but max_length bounds those
