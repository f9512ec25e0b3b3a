"""How long field patterns take on hostile text: every pattern the load-time check lets through
(`LINEAR` in tests/unit/interpreter/test_patterns.py) against 5,000 letters and a mismatch, the input that
makes `(a+)+`-shaped patterns run for ages. The check is a heuristic over `re`'s parse; this measures that
what it passes really matches in linear time. Wall-clock figures, so here and not in the test suite.

    python bench/patterns.py [--length N] [--repeat R] [--limit SECONDS]

Prints the median time per pattern and marks those over the limit (default 0.5 s, exit status 1).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def linear_patterns() -> list[str]:
    """The test suite's list, so the two never drift apart."""
    spec = importlib.util.spec_from_file_location("test_patterns", ROOT / "tests/unit/interpreter/test_patterns.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.LINEAR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=5000, help="letters before the mismatch")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", type=float, default=0.5, help="seconds a pattern may take")
    args = parser.parse_args()
    from itsm.interpreter.forms import backtracks_exponentially

    text = "a" * args.length + "!"
    slow = 0
    for pattern in linear_patterns():
        assert not backtracks_exponentially(pattern), pattern
        compiled = re.compile(pattern)
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            compiled.search(text)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        slow += median > args.limit
        print(f"{median * 1000:9.3f} ms  {'SLOW ' if median > args.limit else ''}{pattern}")
    sys.exit(1 if slow else 0)


if __name__ == "__main__":
    main()
