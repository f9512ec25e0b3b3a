"""Field patterns that backtrack exponentially are refused at load (a requester's text would stall a worker).

How long the patterns that pass take on hostile text is measured by bench/patterns.py (wall-clock time has
no place in a test on a shared machine)."""

from __future__ import annotations

import re

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
    re.compile(pattern)  # a pattern the check passes is one `re` takes


def test_the_rewrite_the_error_suggests_passes() -> None:
    assert backtracks_exponentially(r"^(\w+ ?)+$") and not backtracks_exponentially(r"^\w+( \w+)*$")


def test_bounded_nesting_is_polynomial_and_left_alone() -> None:
    assert not backtracks_exponentially(r"^(a+){2,3}$")  # slow on huge texts, but max_length bounds those
