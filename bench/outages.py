"""The outages offered at intake (issue 17) over a desk's history: `offered_outages` timed with and without text.

    python bench/outages.py [--tickets 100000] [--backends sqlite,postgresql] [--requests 50]

Builds the history as bench/triage.py does (the labelled Chinese incidents with variations, 90% closed, by bulk
SQL), adds ten ongoing outages of the last hours (the most urgent priority, through the engine), and times what
the agent's report form asks while an incident is typed: the candidates are at most twenty, but the full-text
match that says which of them share words with the text runs over the whole index. Prints p50 and p95; run it
alone and quote the load average it prints. PostgreSQL runs in a temporary schema of $ITSM_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import delete, insert
from triage import DATA, ROOT, build, timed

from itsm.engine.people.users import add_user
from itsm.engine.reports.outages import offered_outages
from itsm.store.models import NumberSequence
from itsm.web import create_app, engine_of

from databases import postgres_database, sqlite_database

OUTAGES = ["全省电子公文系统无法登录", "单位门户网站首页无法打开", "视频会议系统连接中断", "省政务外网专线中断",
           "统一身份认证平台无法登录", "财务核算系统打不开", "邮件服务器无法收发邮件", "办公内网DNS解析失败",
           "不动产登记系统卡顿", "社保经办系统报错"]
TYPED = ["公文系统登录不了，一直转圈", "打印机卡纸，无法打印", "邮件发不出去，提示服务器错误", "网站打不开了",
         "视频会议连不上，一直在加载"]


def run(name: str, database: Callable[[], AbstractContextManager[str]], count: int, requests: int) -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    with database() as url:
        app = create_app({"DATABASE_URL": url, "TESTING": True})
        engine = engine_of(app)
        engine.db.upgrade()
        engine.definitions.publish_path(ROOT / "definitions")
        add_user(engine.db, "lars")
        build(engine, rows, count, random.Random(7))
        with engine.db.write() as session:  # the history took the numbers INC0000001.. itself
            session.execute(delete(NumberSequence))
            session.execute(insert(NumberSequence).values(prefix="INC", last_value=count))
        lars = engine.actor("lars")
        for title in OUTAGES:
            engine.create(lars, "incident", {"short_description": title, "service": "network", "impact": "high",
                                             "urgency": "high"})
        found = offered_outages(engine, lars, "incident", TYPED[0])
        assert found["matching"] and len(found["matching"]) + len(found["other"]) == len(OUTAGES), found
        texts = iter(TYPED * requests)
        for label, call in (("no text (the form opens)", lambda: offered_outages(engine, lars, "incident", "")),
                            ("typed text", lambda: offered_outages(engine, lars, "incident", next(texts)))):
            p50, p95 = timed(call, requests)
            print(f"{name:<11} {count:>8,} tickets  {label:<26} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    backends = {"sqlite": sqlite_database}
    base = os.environ.get("ITSM_TEST_POSTGRES_URL")
    if base:
        backends["postgresql"] = postgres_database(base)
    for name in args.backends.split(","):
        if name in backends:
            run(name, backends[name], args.tickets, args.requests)


if __name__ == "__main__":
    main()
