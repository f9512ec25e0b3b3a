"""Import benchmark (SPEC 14): 11,000 organizations and 100,000 users, SQLite and PostgreSQL.

    python bench/imports.py [--units N] [--users N] [--repeat R] [--backends sqlite,postgresql]

Writes a seed-like tree as CSV (one province, 11 cities, 100 counties, units under the counties: 11,000
rows by default, children before their parents, in shuffled order) and 100,000 users with Chinese names
spread over the units, then times, on a fresh SQLite file and a fresh PostgreSQL schema, what
`itsm org import` and `itsm user import` do (`import_orgs`, `import_users`: reading the file, checking
every row, one transaction of bulk statements): the first import, the same files again (nothing changes),
and a re-import that moves one city (rewriting the paths of its ~1,000 units). R rounds (default 3), each on
a new database; the median is printed.

Then a small experiment for docs/decisions.md: the subtree of the province, of a city and of a county as
the store reads it (materialized path, a prefix range of one index) against a closure table
(ancestor, descendant, depth) built from the same tree, and what moving a city costs in each. PostgreSQL:
ITSM_TEST_POSTGRES_URL (default below), skipped with a note when unreachable. Prints figures; asserts
nothing about time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy import text

from itsm.engine.people.orgs import import_orgs
from itsm.engine.people.user_import import import_users
from itsm.store import Database, orgs

from databases import postgres_database, postgres_version, sqlite_database

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CITIES = ("hangzhou", "ningbo", "wenzhou", "jiaxing", "huzhou", "shaoxing", "jinhua", "quzhou", "zhoushan",
          "taizhou", "lishui")
CITY_NAMES = ("杭州市", "宁波市", "温州市", "嘉兴市", "湖州市", "绍兴市", "金华市", "衢州市", "舟山市", "台州市",
              "丽水市")
COUNTIES = 100
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰红建国志强海燕晓东雪梅文博子涵浩然欣怡"
UNIT_KINDS = ("人民政府办公室", "财政局", "教育局", "卫生健康局", "公安分局", "市场监督管理局", "税务局", "街道办事处",
              "社区服务中心", "档案馆")


def write_files(folder: Path, units: int, users: int, seed: int = 16) -> tuple[Path, Path, Path, list[str]]:
    """orgs.csv, users.csv and move.csv (a city moved under a new root), and the ids of the units."""
    rng = random.Random(seed)
    rows = [("zhejiang", "浙江省", "", "zj.gov.cn")]
    counties: list[str] = []
    for c, (city, name) in enumerate(zip(CITIES, CITY_NAMES, strict=True)):
        rows.append((city, name, "zhejiang", f"{city}.gov.cn"))
        for k in range(COUNTIES * (c + 1) // len(CITIES) - COUNTIES * c // len(CITIES)):
            county = f"{city}.c{k:02d}"
            counties.append(county)
            rows.append((county, f"{name}第{k + 1}区", city, f"c{k:02d}.{city}.gov.cn"))
    unit_ids = []
    for u in range(units - len(rows)):
        county = counties[u % len(counties)]
        unit_ids.append(unit := f"{county}.u{u:05d}")
        rows.append((unit, f"{county.split('.')[0]}第{u % 97 + 1}{UNIT_KINDS[u % len(UNIT_KINDS)]}", county, ""))
    rng.shuffle(rows)  # parents in any order
    orgs_csv = folder / "orgs.csv"
    orgs_csv.write_text("\ufeffid,name,parent,domains\n" + "".join(",".join(row) + "\n" for row in rows),
                        encoding="utf-8")
    people = ["name,email,org,full_name,locale,vip,admin,org_contact"]
    for i in range(users):
        unit = unit_ids[rng.randrange(len(unit_ids))]
        full_name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        city, county = unit.split(".")[:2]
        people.append(f"u{i:06d},u{i:06d}@{county}.{city}.gov.cn,{unit},{full_name},zh-CN,"
                      f"{'是' if i % 50 == 0 else '否'},否,{'是' if i % 97 == 0 else '否'}")
    users_csv = folder / "users.csv"
    users_csv.write_text("\n".join(people) + "\n", encoding="utf-8")
    move_csv = folder / "move.csv"
    move_csv.write_text("id,name,parent\nbeijing_office,驻京办事处,\nhangzhou,杭州市,beijing_office\n",
                        encoding="utf-8")
    return orgs_csv, users_csv, move_csv, unit_ids


def timed(run: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def one_round(url: str, files: tuple[Path, Path, Path, list[str]]) -> dict[str, float]:
    orgs_csv, users_csv, move_csv, _ = files
    db = Database(url)
    db.upgrade()
    figures = {}
    figures["orgs, first import"], summary = timed(lambda: import_orgs(db, orgs_csv))
    assert summary.created > 0  # type: ignore[attr-defined]
    figures["users, first import"], _ = timed(lambda: import_users(db, users_csv))
    figures["orgs, same file again"], _ = timed(lambda: import_orgs(db, orgs_csv))
    figures["users, same file again"], _ = timed(lambda: import_users(db, users_csv))
    figures["orgs, a city moved"], moved = timed(lambda: import_orgs(db, move_csv))
    assert moved.carried > 0  # type: ignore[attr-defined]
    db.dispose()
    return figures


def subtree_experiment(url: str, files: tuple[Path, Path, Path, list[str]], repeat: int = 50) -> None:
    """Materialized path (as built) against a closure table, on the tree of the benchmark."""
    db = Database(url)
    db.upgrade()
    import_orgs(db, files[0])
    with db.write() as session:
        session.execute(text("CREATE TABLE org_closure (ancestor VARCHAR(100) NOT NULL, descendant VARCHAR(100) "
                             "NOT NULL, depth INTEGER NOT NULL, PRIMARY KEY (ancestor, descendant))"))
        session.execute(text("CREATE INDEX ix_org_closure_descendant ON org_closure (descendant)"))
        pairs = [{"a": ancestor, "d": row.id, "n": depth} for row in orgs.all_rows(session)
                 for depth, ancestor in enumerate(orgs.lineage(row.path))]
        session.execute(text("INSERT INTO org_closure VALUES (:a, :d, :n)"), pairs)
    print(f"  closure table: {len(pairs):,} rows for {len(files[3]) + 112:,} organizations "
          f"(materialized path: none beyond the organizations' own rows)")
    prefix = ("SELECT id FROM organizations WHERE path GLOB :p || '*'" if db.is_sqlite else
              "SELECT id FROM organizations WHERE path LIKE :p || '%'")  # ids hold no _ here: no escaping
    for label, org_id in (("province", "zhejiang"), ("city", "hangzhou"), ("county", "hangzhou.c00")):
        store_times, path_times, closure_times = [], [], []
        for _ in range(repeat):
            with db.read() as session:
                started = time.perf_counter()
                by_store = session.scalars(orgs.subtree_ids(session, org_id)).all()
                store_times.append(time.perf_counter() - started)
                path = orgs.path_of(None, org_id) if org_id == "zhejiang" else session.scalar(
                    text("SELECT path FROM organizations WHERE id = :id"), {"id": org_id})
                started = time.perf_counter()
                by_path = session.scalars(text(prefix), {"p": path}).all()
                path_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                by_closure = session.scalars(text("SELECT descendant FROM org_closure WHERE ancestor = :a"),
                                             {"a": org_id}).all()
                closure_times.append(time.perf_counter() - started)
        assert sorted(by_store) == sorted(by_path) == sorted(by_closure)
        print(f"  subtree of the {label:8} ({len(by_path):6,} ids): path prefix "
              f"{statistics.median(path_times) * 1000:6.2f} ms, closure {statistics.median(closure_times) * 1000:6.2f}"
              f" ms; orgs.subtree_ids (the path looked up first, through the ORM session) "
              f"{statistics.median(store_times) * 1000:6.2f} ms")
    lineage_times, closure_lineage = [], []
    unit = files[3][0]
    for _ in range(repeat):
        with db.read() as session:
            started = time.perf_counter()
            path = session.scalar(text("SELECT path FROM organizations WHERE id = :id"), {"id": unit})
            orgs.lineage(path)
            lineage_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            session.scalars(text("SELECT ancestor FROM org_closure WHERE descendant = :d ORDER BY depth"),
                            {"d": unit}).all()
            closure_lineage.append(time.perf_counter() - started)
    print(f"  ancestors of a unit (requester.orgs): path {statistics.median(lineage_times) * 1000:.2f} ms "
          f"(read with the user's row: no query of its own), "
          f"closure {statistics.median(closure_lineage) * 1000:.2f} ms")
    with db.write() as session:  # moving a city under a new root, the closure table's way
        started = time.perf_counter()
        orgs.add(session, "shanghai_office", "驻沪办事处")
        orgs.move(session, "ningbo", "shanghai_office")
        path_move = time.perf_counter() - started
        started = time.perf_counter()
        # delete the paths from outside the subtree into it, then join the new parent's ancestors to it
        session.execute(text(
            "DELETE FROM org_closure WHERE descendant IN (SELECT descendant FROM org_closure WHERE ancestor = :c) "
            "AND ancestor NOT IN (SELECT descendant FROM org_closure WHERE ancestor = :c)"), {"c": "ningbo"})
        session.execute(text("INSERT INTO org_closure VALUES (:p, :p, 0)"), {"p": "shanghai_office"})
        session.execute(text(
            "INSERT INTO org_closure (ancestor, descendant, depth) SELECT a.ancestor, d.descendant, "
            "a.depth + d.depth + 1 FROM org_closure a, org_closure d WHERE a.descendant = :p AND d.ancestor = :c"),
            {"p": "shanghai_office", "c": "ningbo"})
        closure_move = time.perf_counter() - started
        moved = len(session.scalars(orgs.subtree_ids(session, "ningbo")).all())
    print(f"  moving a city ({moved:,} organizations): path {path_move * 1000:.0f} ms, "
          f"closure {closure_move * 1000:.0f} ms")
    db.dispose()


def run(name: str, database: Callable[[], AbstractContextManager[str]], files: tuple[Path, Path, Path, list[str]],
        args: argparse.Namespace) -> None:
    rounds: list[dict[str, float]] = []
    for _ in range(args.repeat):
        with database() as url:
            rounds.append(one_round(url, files))
    print(f"{name}: {args.units:,} organizations, {args.users:,} users; median of {args.repeat} rounds "
          f"(each on a new database)")
    for label in rounds[0]:
        times = [r[label] for r in rounds]
        print(f"  {label:24} median {statistics.median(times):6.2f} s  (runs: "
              f"{', '.join(f'{t:.2f}' for t in times)})")
    with database() as url:
        subtree_experiment(url, files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=11_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="itsm-imports-") as folder:
        files = write_files(Path(folder), args.units, args.users)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                run("sqlite", sqlite_database, files, args)
            elif backend == "postgresql":
                base = os.environ.get("ITSM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
                version = postgres_version(base)
                if version is not None:
                    run(f"postgresql {version}", postgres_database(base), files, args)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
