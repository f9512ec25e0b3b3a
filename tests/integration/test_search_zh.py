"""Search in Chinese (SPEC 15, issue 15) on SQLite and PostgreSQL: the queue's `q=` and known-error
suggestions find Chinese words inside Chinese text, mixed text, ranked; comments count as ticket text where
the viewer may read them, work notes never for requesters."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from itsm.engine import Engine
from itsm.engine.reports.known_errors import suggest
from itsm.engine.runtime.search_index import reindex
from itsm.store import SearchDocument, search
from itsm.store import search_stats as match_stats
from itsm.store.migrate import alembic_config, upgrade
from itsm.store.search import match_rows
from itsm.store.search_text import query_words


def incident(engine: Engine, who: str, title: str, description: str = "", resolve: bool = False) -> str:
    values = {"short_description": title, "description": description, "service": "vpn", "category": "network",
              "impact": "low", "urgency": "low"}
    number = engine.create(engine.actor(who), "incident", values)["number"]
    if resolve:
        system = engine.actor("system")
        engine.fire(system, number, "start")
        engine.fire(system, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "已处理"})
    return number


def queue(engine: Engine, who: str, q: str, limit: int = 50, cursor: int | None = None) -> list[str]:
    items, _ = engine.list_tickets(engine.actor(who), {"q": q}, limit, cursor)
    return [item["number"] for item in items]


def numbers(items: list[dict[str, Any]]) -> list[str]:
    return [item["number"] for item in items]


def test_a_chinese_word_is_found_inside_chinese_text(engine: Engine) -> None:
    broken = incident(engine, "rita", "打印机损坏，无法打印", resolve=True)
    other = incident(engine, "rita", "无法打印文件")  # 打印 but not 打印机
    assert queue(engine, "lars", "打印机") == [broken]
    assert numbers(suggest(engine, engine.actor("lars"), "打印机")) == [broken]
    assert set(queue(engine, "lars", "打印")) == {broken, other}
    assert queue(engine, "lars", "打印机 无法") == [broken]  # every word of a queue search
    assert queue(engine, "lars", "打印机，损坏") == [broken]  # full-width punctuation separates words
    found = suggest(engine, engine.actor("lars"), "打印机")[0]
    assert "打印机损坏" in found["excerpt"]  # cut from the text as written, not the bigrams


def test_mixed_chinese_and_latin_text(engine: Engine) -> None:
    erp = incident(engine, "rita", "ERP登录失败", "提示 Invalid credentials，重启电脑也不行")
    incident(engine, "rita", "OA系统打不开")
    for query in ("ERP", "登录", "erp 登录", "ERP登录", "ｅｒｐ登录", "invalid", "重启电脑"):
        assert queue(engine, "lars", query) == [erp], query
    assert queue(engine, "lars", "登录成功") == []
    assert queue(engine, "lars", "erp 打不开") == []


def test_one_character_and_word_boundaries(engine: Engine) -> None:
    head = incident(engine, "rita", "网络故障了吗")
    tail = incident(engine, "rita", "内网断了怎么办")  # 网 inside a run
    end = incident(engine, "rita", "连不上外网")  # 网 as the last character of a run
    alone = incident(engine, "rita", "网 时好时坏")  # 网 alone
    incident(engine, "rita", "打印机卡纸")
    assert set(queue(engine, "lars", "网")) == {head, tail, end, alone}
    # Words are found as written, like a substring: characters straddling two words match too
    meeting = incident(engine, "rita", "明天开会计划")
    assert queue(engine, "lars", "会计") == [meeting]
    assert queue(engine, "lars", "外网断") == []  # a phrase: its characters adjacent, in order


def test_a_title_match_ranks_above_a_body_match(engine: Engine) -> None:
    in_title = incident(engine, "rita", "打印机卡纸", "今天上午开始的", resolve=True)
    in_body = incident(engine, "rita", "三楼设备问题", "打印机一直报错", resolve=True)  # newer
    assert queue(engine, "lars", "打印机") == [in_title, in_body]
    assert numbers(suggest(engine, engine.actor("lars"), "打印机")) == [in_title, in_body]
    assert queue(engine, "lars", in_body) == [in_body]  # the number matches too, first


def test_ranked_search_pages_by_position(engine: Engine) -> None:
    made = {incident(engine, "rita", f"打印机问题 {i}") for i in range(5)}
    seen: list[str] = []
    cursor: int | None = None
    while True:
        items, cursor = engine.list_tickets(engine.actor("lars"), {"q": "打印机"}, 2, cursor)
        seen += [item["number"] for item in items]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)


def test_a_search_ranks_its_newest_matches_then_lists_older_ones_newest_first(engine: Engine, monkeypatch: Any
                                                                              ) -> None:
    """Only the newest `WINDOW` matches are ranked (a page costs what the window costs, not every match of
    a common word); the older matches follow, newest first, on the same pages, and count=true counts all."""
    monkeypatch.setattr("itsm.store.search.WINDOW", 3)
    oldest = incident(engine, "rita", "打印机卡纸", "打印机一直报错")  # the best match, but outside the window
    older = incident(engine, "rita", "三楼设备问题", "打印机一直报错")
    mid = incident(engine, "rita", "三楼设备问题", "打印机一直报错")
    best = incident(engine, "rita", "打印机卡纸", "打印机一直报错")
    newest = incident(engine, "rita", "三楼设备问题", "打印机一直报错")
    incident(engine, "rita", "三楼设备问题", "电脑一直报错")  # no match
    shown = queue(engine, "lars", "打印机")
    assert shown[0] == best and set(shown[1:3]) == {newest, mid}  # the window, best first
    assert shown[3:] == [older, oldest]  # then newest first
    for limit in (1, 2, 4):  # pages by position give the same order, across the window's end too
        seen: list[str] = []
        cursor: int | None = None
        while True:
            items, cursor = engine.list_tickets(engine.actor("lars"), {"q": "打印机"}, limit, cursor)
            seen += numbers(items)
            if cursor is None:
                break
        assert seen == shown, limit
    assert engine.queue_page(engine.actor("lars"), {"q": "打印机"}, 2, count=True).total == 5
    assert queue(engine, "lars", best) == [best]  # the number matches too, first


def test_the_window_is_the_same_whether_found_in_a_range_of_the_newest_tickets_or_not(engine: Engine,
                                                                                     monkeypatch: Any) -> None:
    """PostgreSQL asks the GIN index first for the vectors where the statistics expect fewer than FEW matches
    (without statistics, as here: every one), and reads the ids of those that have fewer; unless every
    source is read so, it looks among the newest SPAN * WINDOW tickets, then SPAN times as many (each range
    only if the statistics expect the window there), then all; SQLite tries the ranges, then all: only a
    cost; the window and its order are the same every way."""
    monkeypatch.setattr("itsm.store.search.WINDOW", 2)
    texts = ["打印机卡纸了", "电脑蓝屏死机", "打印机 VPN 问题", "电脑蓝屏死机", "VPN 断开连接", "电脑蓝屏死机",
             "电脑蓝屏死机", "电脑蓝屏死机", "电脑蓝屏死机", "打印机报错了", "VPN 与打印机", "打印机坏了啊"]
    for i, title in enumerate(texts):  # oldest first; ruth's every third
        incident(engine, "ruth" if i % 3 == 0 else "rita", title)
    engine.comment(engine.actor("lars"), queue(engine, "lars", "蓝屏")[0], "VPN 已重置", internal=True)
    # span 2: ranges of 4 and 8 tickets tried; 1000: none. few=1: no vector has few matches. common: the
    # shares of the vectors the statistics call common (never asked first); 0.3: the first range skipped
    # (1.2 matches expected in 4 tickets), the second tried (2.4 in 8).
    ways = [(span, few, common) for span in (2, 1000) for few in (2000, 1)
            for common in ({}, {"public_vector": 1.0}, dict.fromkeys(search.VECTORS, 1.0), {"public_vector": 0.3})]
    for who, q in (("lars", "打印机"), ("lars", "VPN"), ("lars", "蓝屏"), ("rita", "打印机"), ("ruth", "打印机")):
        shown = {}
        for span, few, common in ways:
            monkeypatch.setattr("itsm.store.search.SPAN", span)
            monkeypatch.setattr("itsm.store.search.FEW", few)
            monkeypatch.setattr("itsm.store.search.expected_shares", statistics_saying(common))
            shown[span, few, tuple(common.items())] = queue(engine, who, q)
        assert len(set(map(tuple, shown.values()))) == 1 and shown[2, 2000, ()], (who, q, shown)


def statistics_saying(common: dict[str, float]) -> Any:
    """`search_stats.expected_shares` as if the table held 10,000 documents and the statistics gave the
    vectors of `common` those shares (the others' as the statistics have them)."""
    def expected(session: Any, terms: Any, every: bool, columns: Any) -> tuple[dict[str, float], float]:
        shares, _ = match_stats.expected_shares(session, terms, every, columns)
        return {**shares, **{column: common[column] for column in columns if column in common}}, 10_000

    return expected


def test_statistics_tell_a_common_word_from_a_rare_one(engine: Engine) -> None:
    """PostgreSQL: `search_stats` reads the most common lexemes of the analyzed vectors (in so small a table,
    every lexeme); a word is expected in its share of the documents (as a prefix too, in the queue), a word
    not among them in none, words all required in the rarest one's share."""
    for i in range(20):
        incident(engine, "rita", f"打印机卡纸 VPN printers {i}", "zyxel 交换机" if i == 7 else "")
    with engine.db.read() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("FTS5 keeps no such statistics: SQLite searches always try the ranges first")
        session.execute(text("ANALYZE ticket_search"))

        def expected(words: list[str], every: bool = True, column: str = "public_vector") -> float:
            shares, documents = match_stats.expected_shares(session, words, every, search.VECTORS)
            assert documents == pytest.approx(20)
            return shares[column] * documents

        assert expected(["打印机"]) == expected(["print"]) == pytest.approx(20)  # a phrase; `print` a prefix
        assert expected(["print"], every=False) == 0 == expected(["wifi"])  # `print` alone; not in the text
        assert expected(["zyxel"]) == expected(["vpn", "zyxel"]) == pytest.approx(1)
        assert expected(["vpn", "zyxel"], every=False) == pytest.approx(20)  # any word: at most every document
        assert expected(["vpn"], column="notes_vector") == 0


def test_requesters_find_neither_other_tickets_nor_work_notes(engine: Engine) -> None:
    ritas = incident(engine, "rita", "VPN连接失败", resolve=True)
    ruths = incident(engine, "ruth", "打印机损坏", resolve=True)
    lars = engine.actor("lars")
    engine.comment(lars, ritas, "内部备注：密钥已泄露 zebracorn", internal=True)
    engine.comment(lars, ritas, "已为您更换硒鼓")  # a public comment
    rita = engine.actor("rita")
    assert queue(engine, "rita", "打印机") == [] and numbers(suggest(engine, rita, "打印机")) == []
    assert queue(engine, "ruth", "打印机") == [ruths]
    assert queue(engine, "rita", "硒鼓") == [ritas] and numbers(suggest(engine, rita, "硒鼓")) == [ritas]
    assert queue(engine, "lars", "硒鼓") == [ritas]
    assert queue(engine, "lars", "密钥") == [ritas] and queue(engine, "lars", "zebracorn") == [ritas]
    assert numbers(suggest(engine, lars, "zebracorn")) == [ritas]
    # as an attacker would: the note's words, FTS5 and tsquery syntax, column filters, prefixes
    for attempt in ("密钥", "泄露", "zebracorn", "zebra*", "notes:zebracorn", "{notes}: zebracorn",
                    "notes : 密钥", '"zebracorn"', "zebracorn:*", "密", "钥", "ZEBRACORN", "ｚｅｂｒａｃｏｒｎ",
                    "内部备注", "(zebracorn)", "zebracorn OR x", "已泄露"):
        assert queue(engine, "rita", attempt) == [], attempt
        assert suggest(engine, rita, attempt) == [], attempt
    for attempt in ("zebracorn | 硒鼓", "硒鼓 OR zebracorn", "- 硒鼓 zebracorn", "硒鼓 {notes}: 密钥"):
        assert queue(engine, "rita", attempt) == [], attempt  # every word is required in what rita may read
    assert queue(engine, "ruth", "硒鼓") == []  # a public comment of another requester's ticket


def test_english_search_and_stemming_still_work(engine: Engine) -> None:
    printer = incident(engine, "rita", "The printer is jammed", resolve=True)
    incident(engine, "rita", "Mail server down")
    assert queue(engine, "lars", "printers") == [printer]
    assert queue(engine, "lars", "jam") == [printer]
    assert numbers(suggest(engine, engine.actor("lars"), "jamming printers")) == [printer]
    assert queue(engine, "lars", "the") == []  # a stop word asks nothing
    assert queue(engine, "lars", "print") == [printer]  # the queue also takes a word as the start of one
    assert queue(engine, "lars", "PRINT ja") == [printer]  # (the start of what is indexed: `jammed` as `jam`)
    assert queue(engine, "lars", "rint") == []  # but not its middle


def test_reindex_keeps_comments_and_notes(engine: Engine) -> None:
    number = incident(engine, "rita", "电脑突然蓝屏")
    engine.comment(engine.actor("lars"), number, "更换内存条后正常", internal=True)
    engine.comment(engine.actor("rita"), number, "又出现了一次")
    with engine.db.write() as session:
        session.execute(SearchDocument.__table__.delete())
    assert queue(engine, "lars", "内存条") == []
    assert reindex(engine) == 1
    assert queue(engine, "lars", "内存条") == [number] and queue(engine, "rita", "内存条") == []
    assert queue(engine, "rita", "又出现") == [number] and queue(engine, "rita", "蓝屏") == [number]


def test_migration_0007_rewrites_existing_documents(engine: Engine) -> None:
    number = incident(engine, "rita", "打印机损坏，无法打印", "The printers on floor 3")
    engine.comment(engine.actor("lars"), number, "已联系厂商维修", internal=True)
    engine.comment(engine.actor("rita"), number, "请尽快处理")
    db_engine = engine.db.engine
    command.downgrade(alembic_config(db_engine), "0006")  # back to documents without comments
    with db_engine.begin() as connection:
        title, body = connection.execute(text("SELECT title, body FROM ticket_search")).one()
    assert "打印 印机" in title  # 0007's downgrade keeps the cut text; write it as 0006 had it
    with db_engine.begin() as connection:
        connection.execute(text("UPDATE ticket_search SET title = :t, body = :b"),
                           {"t": "打印机损坏，无法打印", "b": "The printers on floor 3"})
    upgrade(db_engine, "head")
    with engine.db.read() as session:
        def found(query: str, notes: bool) -> list[str]:
            return [row.number for row in match_rows(session, query_words(query), [], 10, every=True,
                                                     notes=text("1 = 1") if notes else None)]
        assert found("打印机", False) == [number] and found("printer", False) == [number]
        assert found("尽快", False) == [number]
        assert found("厂商", False) == [] and found("厂商", True) == [number]
