"""Queue searches at seed scale, in process (issue 18): `q=` on the desks that bench/scale.py keeps.

    python bench/search_scale.py [--database URL] [--schemas itsm_scale_50000,itsm_scale_1000000]
                                 [--repeat 20] [--baseline FILE] [--statements]

Runs the searches of bench/scale.py (`QUERIES`, as its L1 agent), the queue without a search (for
scale) and a few more (a requester's, an administrator's over closed tickets too, two words, a word in 5 %
of the tickets, the page after the ranked window) through the engine as the API does (`Engine.queue_page`:
the page of 25 and its snapshots, no HTTP), R times after a warm-up, and prints the median per desk.
`--baseline FILE`: another version of `itsm/store/search.py` (`git show main:platform/store/search.py >
FILE`), loaded beside this one; each request then runs alternately with either (the queue's `match_rows`
swapped), both medians are printed and the pages compared (the same tickets in the same order, else a line
saying so). `--statements`: the median time of each statement of this version's searches. Reads only: the
desks of `bench/scale.py --keep` or `--build-only`. The machine is shared: mind the load average
printed. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scale import DEFAULT_POSTGRES_URL, QUERIES, schema_url
from sqlalchemy import event, text

import itsm.engine.runtime.queue as queue
from itsm.engine import Engine
from itsm.store import Database

Case = tuple[str, str, dict[str, str], Any]  # label, who, filters, cursor


def cases(db: Database) -> list[Case]:
    with db.engine.connect() as c:  # bench/scale.py's requester: the newest ticket's
        requester = c.execute(text("SELECT requester FROM tickets ORDER BY id DESC LIMIT 1")).scalar_one()
    out: list[Case] = [("queue, no search (for scale)", "lars", {}, None)]
    out += [(label, "lars", {"q": words}, None) for label, words in QUERIES.items()]
    out += [("q two words", "lars", {"q": "VPN 断开"}, None),
            ("q 截图 (5 %)", "lars", {"q": "截图"}, None),
            ("q common, page 21", "lars", {"q": QUERIES["q common zh"]}, 500),
            ("admin, closed too, rare", "admin", {"q": QUERIES["q rare en"], "include_closed": "true"}, None),
            ("admin, closed too, common", "admin", {"q": QUERIES["q common en"], "include_closed": "true"}, None),
            ("requester, common", requester, {"q": QUERIES["q common zh"]}, None)]
    return out


def load_baseline(path: Path) -> Callable[..., Any]:
    """`match_rows` of another version of itsm/store/search.py, imported beside this one."""
    spec = importlib.util.spec_from_file_location("itsm.store.search_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.match_rows


def measure(url: str, schema: str, versions: dict[str, Callable[..., Any]], repeat: int, show: bool) -> None:
    """Each case on one desk, alternately with each version of `match_rows`: the medians, whether the pages
    are the same, and (`show`) each statement's median time with this version."""
    db = Database(schema_url(url, schema))
    engine = Engine(db)
    log: list[tuple[str, float]] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(db.engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        log.append((" ".join(statement.split())[:110], time.perf_counter() - conn.info["started"]))

    print(f"\n{schema} (ms, median of {repeat}){''.join(f'{name:>10}' for name in versions)}")
    for label, who, filters, cursor in cases(db):
        actor = engine.actor(who)
        times: dict[str, list[float]] = {name: [] for name in versions}
        pages: dict[str, list[str]] = {}
        statements: list[list[tuple[str, float]]] = []
        for i in range(repeat + 1):
            for name, match_rows in versions.items():
                queue.match_rows = match_rows
                log.clear()
                started = time.perf_counter()
                page = engine.queue_page(actor, filters, 25, cursor)
                elapsed = time.perf_counter() - started
                pages[name] = [item["number"] for item in page.items]
                if i:  # the first one warms up
                    times[name].append(elapsed)
                    if name == "this":
                        statements.append(list(log))
        same = "" if len({tuple(page) for page in pages.values()}) == 1 else "  PAGES DIFFER"
        print(f"  {label:<28}" + "".join(f"{statistics.median(t) * 1000:10.1f}" for t in times.values())
              + f"  ({len(pages['this'])} tickets){same}", flush=True)
        if show:  # the runs that ran the most usual statements (a first run may look up more)
            usual = Counter(tuple(text for text, _ in run) for run in statements).most_common(1)[0][0]
            runs = [run for run in statements if tuple(text for text, _ in run) == usual]
            for k, statement in enumerate(usual):
                print(f"      {statistics.median(run[k][1] for run in runs) * 1000:7.2f}  {statement}")
    queue.match_rows = versions["this"]
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("ITSM_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
    parser.add_argument("--schemas", default="itsm_scale_50000,itsm_scale_1000000")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--baseline", type=Path, help="another itsm/store/search.py to compare with")
    parser.add_argument("--statements", action="store_true", help="each statement's median time")
    args = parser.parse_args()
    versions: dict[str, Callable[..., Any]] = {"this": queue.match_rows}
    if args.baseline:
        versions = {"baseline": load_baseline(args.baseline), **versions}
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    for schema in args.schemas.split(","):
        measure(args.database, schema, versions, args.repeat, args.statements)
    print("\nload average at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
