"""How long pack templates take to render within their bounds (interpreter/template_limits.py).

    python bench/templates.py [--repeat N] [--no-plain]

Ordinary section: the default pack's notification and action templates, rendered through the bounded
renderer the engine uses and through Jinja's own sandbox (the reference): microseconds per render, i.e. what
the bounds cost on every ticket change and every SLA breach.

Pathological section: templates that pass `itsm validate` (two levels of loops at most, literal widths within
the limits) fed data that makes them run away: a ticket field of a few thousand characters looped over
twice, text rebuilt in a namespace, a wordwrap at width 1 over a long text, and so on. Each is rendered N
times through the bounded renderer, which refuses it after its budget of work (or renders it, when it fits);
with the plain sandbox (skip it with --no-plain) the same render runs to the end, for comparison. Prints
medians (min-max) in milliseconds per render and what the bounded render answered. The machine is shared,
so mind the load average printed first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from jinja2.sandbox import SandboxedEnvironment

from itsm.interpreter.template_checks import template_hazards
from itsm.interpreter.templates import BODY_CUT, MAX_BODY, renderer

ROOT = Path(__file__).resolve().parents[1]
TICKET = {"number": "INC0000042", "priority": "P2", "team": "service_desk", "assignee": "dana",
          "requester": "rita", "short_description": "VPN drops every hour", "resolution_notes": "Client updated",
          "reopen_reason": "Still drops", "resolution_code": "fixed", "contact_phone": "+49 30 1234",
          "incident": "INC0000041", "summary": "Review", "owner": "nils", "hand_over_to": "dana"}
CONTEXT: dict[str, Any] = {"ticket": TICKET, "actor": {"name": "lars"}, "requester": {"name": "rita"},
                           "timeline": "2026-03-05 10:00 CET  rita  create",
                           "clock": {"id": "resolution", "label": "Resolution", "status": "running",
                                     "deadline": "2026-03-05T16:00:00+01:00", "percent": 80, "threshold": "80%"}}
LONG = "The VPN client reconnects every hour and drops the session. " * 40  # 2,440 characters
PATHOLOGICAL: list[tuple[str, str, dict[str, Any]]] = [
    ("two loops over a 2,440-character field",
     "{% for a in ticket.text %}{% for b in ticket.text %}.{% endfor %}{% endfor %}", {"text": LONG}),
    ("two loops over a 2,440-character field, a bigger body",
     "{% for a in ticket.text %}{% for b in ticket.text %}{{ a }}{{ b|upper }}{% if a == b %}={% endif %}"
     "{% endfor %}{% endfor %}", {"text": LONG}),
    ("text rebuilt in a namespace, in a loop over 1,000 items",
     "{% set ns = namespace(s='') %}{% for i in range(1000) %}{% set ns.s = ns.s ~ ticket.text %}{% endfor %}"
     "{{ ns.s|length }}", {"text": LONG}),
    ("wordwrap at width 1 over 100,000 characters", "{{ ticket.text|wordwrap(1) }}", {"text": LONG * 41}),
    ("replace every gap of 100,000 characters with a field", "{{ ticket.text|replace('', ticket.other) }}",
     {"text": LONG * 41, "other": "x" * 1000}),
    ("1,000 items padded to 1,000 and joined (fits: 1 MB)",
     "{{ range(1000)|map('center', 1000)|join|length }}", {}),
    ("a body of 200,000 characters (fits: cut at 64 KiB)",
     "{% for i in range(80) %}{{ ticket.text }}{% endfor %}", {"text": LONG}),
]


def timed(render: Callable[[], str], repeat: int) -> tuple[list[float], str]:
    runs, answer = [], ""
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            answer = f"rendered {len(render()):,} characters"
        except Exception as exc:  # the bounded render's refusal is the expected answer
            answer = f"{type(exc).__name__}: {str(exc)[:70]}"
        runs.append((time.perf_counter() - started) * 1000)
    return runs, answer


def figures(runs: list[float], unit: str = "ms") -> str:
    return f"{statistics.median(runs):8.2f} {unit} ({min(runs):.2f}-{max(runs):.2f})"


def pack_templates() -> list[str]:
    found: list[str] = []

    def strings(value: object) -> None:
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                strings(item)
        elif isinstance(value, list):
            for item in value:
                strings(item)

    for path in sorted((ROOT / "definitions").rglob("*.yaml")):
        if "intake" not in path.parts:  # intake templates read payloads, not tickets
            for doc in yaml.safe_load_all(path.read_text()):
                strings(doc)
    return found


def ordinary(repeat: int) -> None:
    texts = pack_templates()
    bounded = [renderer(text) for text in texts]
    plain_env = SandboxedEnvironment(autoescape=False)
    plain = [plain_env.from_string(text) for text in texts]
    rounds = 200
    for label, render in (("bounded renderer", lambda: [r(CONTEXT) for r in bounded]),
                          ("Jinja's sandbox ", lambda: [t.render(CONTEXT) for t in plain])):
        render()
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(rounds):
                render()
            runs.append((time.perf_counter() - started) / (rounds * len(texts)) * 1e6)
        print(f"  {label}  {figures(runs, 'us')} per render, {len(texts)} templates of the default pack")


def pathological(repeat: int, plain: bool) -> None:
    plain_env = SandboxedEnvironment(autoescape=False)
    for label, text, ticket in PATHOLOGICAL:
        assert template_hazards(text) == (), (label, template_hazards(text))  # each passes validation
        context = {"ticket": ticket}
        bounded = renderer(text)
        runs, answer = timed(lambda: bounded(context, MAX_BODY, BODY_CUT), repeat)  # noqa: B023
        print(f"  {label}\n    bounded  {figures(runs)}  {answer}")
        if plain:
            template = plain_env.from_string(text)
            runs, answer = timed(lambda: template.render(context), max(1, repeat // 3))  # noqa: B023
            print(f"    plain    {figures(runs)}  {answer}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--no-plain", action="store_true", help="skip the unbounded renders (they take seconds)")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("Ordinary templates:")
    ordinary(args.repeat)
    print("Pathological templates that pass validation (ms per render):")
    pathological(args.repeat, not args.no_plain)


if __name__ == "__main__":
    main()
