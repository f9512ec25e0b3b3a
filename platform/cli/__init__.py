"""The `itsm` command line (SPEC 11). Commands import what they drive lazily, so `itsm validate` stays fast."""

from __future__ import annotations

import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from itsm.interpreter import DefinitionError, PackSpec

DEFAULT_PACK = "definitions"
_SINGULAR = {"processes": "process", "states": "state", "transitions": "transition", "fields": "field",
             "teams": "team", "clocks": "clock"}


def _version() -> str:
    try:
        return version("itsm-platform")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="itsm")
def main() -> None:
    """Low-code IT service management: processes, SLAs and routing defined in YAML."""


pack_argument = click.argument("pack", required=False, default=DEFAULT_PACK,
                               type=click.Path(file_okay=False, path_type=Path))


def _load_or_report(pack: Path) -> tuple[PackSpec | None, list[DefinitionError]]:
    from itsm.interpreter import check_pack

    if not pack.is_dir():
        raise click.UsageError(f"pack directory '{pack}' not found (give the folder that holds pack.yaml)")
    spec, problems = check_pack(pack)
    for problem in problems:
        click.echo(str(problem))
    return spec, problems


@main.command()
@pack_argument
def validate(pack: Path) -> None:
    """Check a pack (default: ./definitions); print every problem as FILE:LINE:COL lines.

    Exit status: 0 valid, 1 invalid, 2 usage error.
    """
    spec, problems = _load_or_report(pack)
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    if spec is None:
        click.echo(f"{pack}: {errors} error{'s' if errors != 1 else ''}"
                   f"{f', {warnings} warning' + ('s' if warnings != 1 else '') if warnings else ''}", err=True)
        sys.exit(1)
    counts = spec.summary()
    summary = ", ".join(f"{n} {name if n != 1 else _SINGULAR[name]}" for name, n in counts.items())
    tail = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
    click.echo(f"{pack}: pack '{spec.id}' is valid: {summary}{tail}")


@main.command()
@click.argument("process")
@click.option("--pack", default=DEFAULT_PACK, show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Pack directory.")
def graph(process: str, pack: Path) -> None:
    """Print PROCESS as a Mermaid stateDiagram-v2."""
    from itsm.interpreter.errors import did_you_mean
    from itsm.interpreter.graph import mermaid

    spec, _ = _load_or_report(pack)
    if spec is None:
        sys.exit(1)
    if process not in spec.processes:
        raise click.UsageError(f"no process '{process}' in the pack{did_you_mean(process, spec.processes)}"
                               f" (processes: {', '.join(sorted(spec.processes))})")
    click.echo(mermaid(spec.processes[process]), nl=False)


@main.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the schemas to (created if missing).")
def schema(out: Path) -> None:
    """Write the JSON Schema of every kind, for editors' YAML extensions."""
    from itsm.interpreter.schema import SCHEMAS, editor_schema

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, body in {**SCHEMAS, "document": editor_schema()}.items():
        target = out / f"{kind}.json"
        target.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        written.append(target.name)
    click.echo(f"wrote {len(written)} schemas to {out}: {', '.join(written)}")
