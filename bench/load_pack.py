"""How long loading a pack takes: a cold `itsm validate definitions`, and in-process load + compile of the
default pack and of a generated large pack (50 processes x 20 states x 40 transitions, 500 fields).

    python bench/load_pack.py [--repeat N]

Prints medians (and min/max) over N runs; the machine is shared, so look at the median.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORMS, FIELDS_PER_FORM, PROCESSES, STATES, TRANSITIONS = 5, 100, 50, 20, 40


def generate_large_pack(root: Path) -> Path:
    """A valid pack of the stated size, shaped like real ones (guards, flags, actions, SLA, routing)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text("kind: pack\nid: large\nname: Large\nformat: 1\ntimezone: Europe/Berlin\n")
    for f in range(FORMS):
        lines = [f"kind: form\nid: form{f}\nfields:"]
        lines.append("  - {id: impact, type: choice, choices: [high, medium, low]}")
        lines.append("  - {id: urgency, type: choice, choices: [high, medium, low]}")
        lines.append("  - {id: category, type: choice, choices: [network, software, hardware, access]}")
        for i in range(FIELDS_PER_FORM - 3):
            kind = ("string", "text", "integer", "boolean", "date")[i % 5]
            extra = ", max_length: 200" if kind == "string" else ""
            cond = ", visible_when: \"category == 'network'\"" if i % 7 == 0 else ""
            lines.append(f"  - {{id: field{i}, type: {kind}, label: Field {i}{extra}{cond}}}")
        (root / f"form{f}.yaml").write_text("\n".join(lines) + "\n")
    (root / "shared.yaml").write_text("""kind: priority_matrix
id: prio
inputs: [impact, urgency]
levels: [P1, P2, P3, P4, P5]
matrix:
  high: {high: P1, medium: P2, low: P3}
  medium: {high: P2, medium: P3, low: P4}
  low: {high: P3, medium: P4, low: P5}
default: P4
adjust: [{when: "requester.vip", raise: 1}]
---
kind: calendar
id: office
hours: {mon: ["08:00-12:00", "13:00-17:00"], tue: ["08:00-12:00", "13:00-17:00"], wed: ["08:00-17:00"]}
holidays: [2026-01-01, {from: 2026-12-24, to: 2026-12-31, name: Shutdown}]
---
kind: sla_policy
id: sla
calendar: office
clocks:
  - {id: response, stop: "state != 's0'", targets: {P1: 15m, P2: 30m, P3: 2h, P4: 8h, P5: 2bd},
     calendars: {P1: 24x7}, warn_at: [75%]}
  - {id: resolution, stop: "state in ['s18', 's19']", pause: "state == 's5'",
     targets: {P1: 4h, P2: 8h, P3: 3bd, P4: 5bd, P5: 10bd}}
---
kind: team
id: desk
roles: [agent]
members: [{user: a}, {user: b}]
---
kind: routing
id: routes
rules:
  - {when: "category == 'network' and impact == 'high'", team: desk}
  - {default: true, team: desk}
""")
    for p in range(PROCESSES):
        lines = [f"kind: process\nid: proc{p}\nform: form{p % FORMS}\ninitial: s0\npriority: {{matrix: prio}}",
                 "sla: sla\nrouting: routes\nstates:"]
        for s in range(STATES):
            final = ", final: true" if s == STATES - 1 else ""
            flags = f", fields: {{field{s}: {{required: true}}}}" if s % 4 == 1 else ""
            lines.append(f"  - {{id: s{s}, label: State {s}{final}{flags}}}")
        lines.append("transitions:")
        for t in range(TRANSITIONS):
            source, target = t % (STATES - 1), (t * 7 + 1) % STATES
            if t < STATES - 1:
                target = t + 1  # a chain that makes every state reachable
            guard = f", when: \"impact == 'high' or field{t % 50} != null\"" if t % 3 == 0 else ""
            actions = f", actions: [{{set: {{field{t % 90}: 'x{{{{ actor.name }}}}'}}}}]" if t % 5 == 0 else ""
            lines.append(f"  - {{id: t{t}, from: s{source}, to: s{target}, roles: [agent]{guard}{actions}}}")
        (root / f"proc{p}.yaml").write_text("\n".join(lines) + "\n")
    return root


def timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def show(label: str, times: list[float]) -> None:
    print(f"{label:<58} median {statistics.median(times) * 1000:8.1f} ms"
          f"   (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={len(times)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()

    itsm = shutil.which("itsm", path=str(Path(sys.executable).parent)) or "itsm"
    cold = timed(lambda: subprocess.run([itsm, "validate", "definitions"], cwd=ROOT, check=True,
                                        stdout=subprocess.DEVNULL), args.repeat)
    show("cold `itsm validate definitions` (wall, new process)", cold)

    from itsm.interpreter import load_pack

    load_pack(ROOT / "definitions")  # warm the imports; the cold figure above includes them
    show("in-process load + compile, default pack", timed(lambda: load_pack(ROOT / "definitions"), args.repeat))

    with tempfile.TemporaryDirectory() as tmp:
        large = generate_large_pack(Path(tmp) / "large")
        pack = load_pack(large)
        summary = pack.summary()
        show(f"in-process load + compile, large pack ({summary['processes']} processes, "
             f"{summary['transitions']} transitions, {summary['fields']} fields)",
             timed(lambda: load_pack(large), max(3, args.repeat // 2)))


if __name__ == "__main__":
    main()
