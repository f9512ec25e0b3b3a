"""Shared by every test folder: hypothesis profiles.

Locally each run explores new examples (hypothesis's default). CI sets HYPOTHESIS_PROFILE=ci: the examples
are derived from each test's name, so a CI run checks exactly what the same command checked here.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
