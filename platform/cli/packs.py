"""Commands for pack authors: validate, graph, schema, test (scenarios), diff and init (SPEC 11)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    pass

from .common import _SINGULAR, DEFAULT_PACK, _load_or_report, pack_argument


@click.command()
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


@click.command()
@click.argument("process")
@click.option("--pack", default=DEFAULT_PACK, show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Pack directory.")
@click.option("--language", default=None, metavar="TAG",
              help="Language of the labels, e.g. zh-CN (default: the pack's `language`).")
def graph(process: str, pack: Path, language: str | None) -> None:
    """Print PROCESS as a Mermaid stateDiagram-v2."""
    from itsm.interpreter.errors import did_you_mean
    from itsm.interpreter.graph import mermaid
    from itsm.interpreter.texts import is_language_tag

    spec, _ = _load_or_report(pack)
    if spec is None:
        click.echo(f"{pack}: no graph: the pack is not valid", err=True)
        sys.exit(1)
    if process not in spec.processes:
        raise click.UsageError(f"no process '{process}' in the pack{did_you_mean(process, spec.processes)}"
                               f" (processes: {', '.join(sorted(spec.processes))})")
    if language is not None and not is_language_tag(language):
        raise click.BadParameter(f"'{language}' is not a language tag: write tags such as zh-CN or en",
                                 param_hint="--language")
    click.echo(mermaid(spec.processes[process], language), nl=False)


@click.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the schemas to (created if missing).")
@click.option("--reference", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the language reference in Markdown to this file.")
def schema(out: Path | None, reference: Path | None) -> None:
    """Write the JSON Schema of every kind, for editors' YAML extensions (and the Markdown reference)."""
    from itsm.interpreter.schema import SCHEMAS, editor_schema, overlay_schema

    if out is None and reference is None:
        raise click.UsageError("give --out DIR (JSON Schemas) and/or --reference FILE (Markdown)")
    if reference is not None:
        from itsm.interpreter.reference import reference_markdown

        reference.write_text(reference_markdown(), encoding="utf-8")
        click.echo(f"wrote {reference}")
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, body in {**SCHEMAS, "document": editor_schema(), "overlay": overlay_schema()}.items():
        target = out / f"{kind}.json"
        target.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        written.append(target.name)
    click.echo(f"wrote {len(written)} schemas to {out}: {', '.join(written)}")


@click.command("test")
@pack_argument
@click.option("--junit", "junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a JUnit XML report (for CI systems).")
@click.option("-k", "selection", help="Only scenarios whose id contains this text.")
def test_command(pack: Path, junit: Path | None, selection: str | None) -> None:
    """Run the pack's scenarios on a throwaway database with a controllable clock.

    One line per scenario; a failure names the step, its YAML line, and expected and actual values.
    Exit status 1 when a scenario fails (or the pack is invalid).
    """
    import time

    from itsm.engine.authoring.scenarios import run_scenario

    spec, _ = _load_or_report(pack)
    if spec is None:
        click.echo(f"{pack}: not tested: the pack is not valid", err=True)
        sys.exit(1)
    started = time.perf_counter()
    results = [run_scenario(spec, s) for sid, s in sorted(spec.scenarios.items())
               if not selection or selection in sid]
    for result in results:
        if result.passed:
            click.echo(f"PASS {result.id} ({result.steps} steps, {result.seconds:.2f}s)")
        else:
            click.echo(f"FAIL {result.id}")
            for failure in result.failures:
                click.echo(f"     {failure}")
    failed = sum(not r.passed for r in results)
    seconds = f"in {time.perf_counter() - started:.2f}s"
    summary = f"{len(results) - failed} passed, {failed} failed {seconds}" if results else f"no scenarios ran {seconds}"
    click.echo(("=" * 10) + f" {summary} " + ("=" * 10))
    if not results:  # a CI job that tests nothing must not look green
        click.echo(f"{pack}: no scenario id contains '{selection}'" if selection and spec.scenarios else
                   f"{pack}: the pack has no scenarios (kind: scenario documents; `itsm init` writes one)", err=True)
    if junit is not None:
        _write_junit(junit, spec.id, results)
    if failed or not results:
        sys.exit(1)


def _write_junit(path: Path, suite: str, results: list[Any]) -> None:
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuite", name=f"itsm.{suite}", tests=str(len(results)),
                      failures=str(sum(not r.passed for r in results)))
    for result in results:
        case = ET.SubElement(root, "testcase", classname=f"itsm.{suite}", name=result.id,
                             time=f"{result.seconds:.3f}")
        for failure in result.failures:
            ET.SubElement(case, "failure", message=failure.message).text = str(failure)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


@click.command()
@click.argument("old")
@click.argument("new")
@click.option("--pack", "pack_path", default=DEFAULT_PACK, show_default=True,
              help="With git revisions: the pack's folder in the repository.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
@click.option("--tickets/--no-tickets", default=True, show_default=True,
              help="Count the open tickets each change touches (needs the database).")
def diff(old: str, new: str, pack_path: str, fmt: str, tickets: bool) -> None:
    """Semantic diff of two packs: OLD and NEW are pack folders, or git revisions of --pack
    (itsm diff HEAD~1 HEAD --pack definitions)."""
    import tempfile

    from itsm.interpreter.diff import diff_packs

    with tempfile.TemporaryDirectory(prefix="itsm-diff-") as scratch:
        specs = []
        for label, ref in (("old", old), ("new", new)):
            folder = Path(ref) if Path(ref).is_dir() else _checkout(ref, pack_path, Path(scratch) / label)
            spec, _ = _load_or_report(folder)
            if spec is None:
                click.echo(f"{ref}: the {label} pack is not valid", err=True)
                sys.exit(1)
            specs.append(spec)
    changes = diff_packs(specs[0], specs[1])
    counts: list[int | None] = [None] * len(changes)
    if tickets and changes:
        counts = _ticket_counts(changes)
    if fmt == "markdown":
        click.echo(f"### Definitions diff: {len(changes)} change{'s' if len(changes) != 1 else ''}\n")
        if changes:
            click.echo("| change | what | detail | open tickets |\n|---|---|---|---|")
            for change, count in zip(changes, counts, strict=True):
                detail = change.detail.replace("|", "\\|")
                click.echo(f"| {change.action} {change.kind} | `{change.subject}` | {detail} | "
                           f"{'' if count is None else count} |")
        return
    for change, count in zip(changes, counts, strict=True):
        suffix = "" if count is None else f" ({count} open ticket{'s' if count != 1 else ''})"
        click.echo(change.line() + suffix)
    click.echo(f"{len(changes)} change{'s' if len(changes) != 1 else ''}")


def _checkout(revision: str, pack_path: str, target: Path) -> Path:
    """The pack as it was at a git revision: the repository's tree at that revision, unpacked."""
    import io
    import subprocess
    import tarfile

    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True)
        archive = subprocess.run(["git", "archive", "--format=tar", revision], capture_output=True, check=True,
                                 cwd=top.stdout.strip())
    except (OSError, subprocess.CalledProcessError) as exc:
        raise click.UsageError(f"'{revision}' is neither a pack folder nor a git revision here") from exc
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    root = Path(top.stdout.strip())
    relative = Path(pack_path)
    if relative.is_absolute() or relative.exists():
        if not relative.resolve().is_relative_to(root.resolve()):
            raise click.UsageError(f"--pack '{pack_path}' is outside the git repository at {root}")
        relative = relative.resolve().relative_to(root.resolve())
    if not (target / relative).is_dir():
        raise click.UsageError(f"--pack '{pack_path}' is not a folder at revision '{revision}' "
                               f"(give the pack's folder in the repository with --pack)")
    return target / relative


def _ticket_counts(changes: list[Any]) -> list[int | None]:
    from itsm.engine.authoring.impact import open_tickets
    from itsm.store import Database

    database = Database()
    path = database.sqlite_path()
    if (path is not None and not path.exists()) or not _reachable(database):
        return [None] * len(changes)
    return [open_tickets(database, change) for change in changes]


def _reachable(database: Any) -> bool:
    try:
        return bool(database.has_tables())
    except Exception:  # no database here: the diff is still useful without counts
        return False


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--extends", "base", default=DEFAULT_PACK, show_default=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path), help="The base pack.")
def init(directory: Path, base: Path) -> None:
    """Scaffold a client overlay in DIRECTORY: pack.yaml with commented examples, and one scenario."""
    import os
    import re

    from itsm.engine.authoring.scaffold import overlay_files

    spec, _ = _load_or_report(base)
    if spec is None:
        click.echo(f"{base}: the base pack is not valid", err=True)
        sys.exit(1)
    if directory.exists() and any(directory.iterdir()):
        raise click.UsageError(f"'{directory}' is not empty")
    ident = re.sub(r"[^a-z0-9_]", "_", directory.resolve().name.lower()).strip("_") or "client"
    if not ident[0].isalpha():
        ident = f"client_{ident}"
    extends = os.path.relpath(base.resolve(), directory.resolve())
    for name, text in overlay_files(spec, ident, extends).items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        click.echo(f"wrote {target}")
    click.echo(f"next: itsm validate {directory} && itsm test {directory}")
