"""`itsm serve --watch`: a save republishes; a broken save is reported and the last good version serves."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from itsm.engine import Definitions
from itsm.engine.authoring.watch import PackWatcher
from itsm.store import Database

MINIMAL = Path(__file__).resolve().parents[1] / "packs" / "valid" / "minimal"


def test_watch_republishes_good_saves_and_keeps_serving_through_bad_ones(db: Database, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(MINIMAL, pack)
    definitions = Definitions(db, poll_seconds=0)
    first = definitions.publish_path(pack).version
    lines: list[str] = []
    watcher = PackWatcher(definitions, pack, report=lines.append)
    assert watcher.check_once().changed is False

    source = (pack / "pack.yaml").read_text()
    time.sleep(0.01)
    (pack / "pack.yaml").write_text(source.replace("to: done", "to: dnoe"))
    broken = watcher.check_once()
    assert broken.changed and broken.published is None
    assert any("unknown state 'dnoe'" in line for line in lines) and "last good version" in lines[-1]
    assert definitions.active_id() == first

    time.sleep(0.01)
    (pack / "pack.yaml").write_text(source.replace("name: Minimal desk", "name: Minimal desk (edited)"))
    good = watcher.check_once()
    assert good.published is not None and good.published != first
    assert definitions.active_id() == good.published and lines[-1].startswith("published version")
