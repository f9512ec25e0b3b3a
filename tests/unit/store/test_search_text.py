"""The text search indexes and asks for (issue 15): Han runs as bigrams and a tail, the rest as written."""

from __future__ import annotations

from itsm.store.search_text import Part, excerpt, index_text, query_units, query_words, word_parts


def test_han_runs_become_bigrams_and_their_last_character() -> None:
    assert index_text("打印机损坏，无法打印") == "打印 印机 机损 损坏 坏 , 无法 法打 打印 印"
    assert index_text("网") == "网" and index_text("内网") == "内网 网"


def test_latin_text_is_left_as_the_database_reads_it_and_full_width_forms_fold() -> None:
    assert index_text("The printers at host-1.example.com") == "The printers at host-1.example.com"
    assert index_text("ERP登录失败") == "ERP 登录 录失 失败 败"
    assert index_text("ＡＢＣ１２３　ｘ") == "ABC123 x"


def test_query_words_drop_stop_words_single_letters_and_syntax() -> None:
    assert query_words('"VPN*" NEAR(disconnects, 2) -the title:and') == ["vpn", "near", "disconnects", "2", "title"]
    assert query_words("ＥＲＰ登录 a 网") == ["erp登录", "网"]
    assert len(query_words(" ".join(f"w{i}" for i in range(100)))) == 32


def test_word_parts_phrase_prefix_and_word() -> None:
    assert word_parts("erp登录") == [Part("word", "erp"), Part("phrase", "登录", ("登录",))]
    assert word_parts("打印机") == [Part("phrase", "打印机", ("打印", "印机"))]
    assert word_parts("网") == [Part("prefix", "网")]


def test_a_clause_in_a_known_error_search_is_asked_for_by_its_bigrams() -> None:
    assert query_units(["打印机卡纸了"], every=True) == [tuple(word_parts("打印机卡纸了"))]
    pieces = query_units(["打印机卡纸了"], every=False)
    assert [unit[0].text for unit in pieces] == ["打印", "印机", "机卡", "卡纸", "纸了"]
    assert query_units(["打印机"], every=False) == [tuple(word_parts("打印机"))]


def test_excerpts_come_from_the_text_as_written() -> None:
    body = "第一行\n" + "无关内容" * 20 + "打印机损坏，无法打印" + "其他" * 20
    cut = excerpt([body, "标题"], ["打印机"])
    assert "打印机损坏，无法打印" in cut and cut.startswith("…") and cut.endswith("…")
    assert excerpt(["", "Printers jam"], ["printer"]) == "Printers jam"
    assert excerpt(["nothing here"], ["zebra"]) == "nothing here"
