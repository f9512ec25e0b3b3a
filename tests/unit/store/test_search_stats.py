"""How common a search is, from the most common lexemes' shares (`search_stats.share`): an upper bound."""

from __future__ import annotations

import pytest

from itsm.store.search_stats import share

LISTED = {"vpn": 0.18, "vpns": 0.01, "打印": 0.15, "印机": 0.16, "print": 0.02, "printer": 0.05}


def test_a_word_is_its_lexemes_share_and_as_a_prefix_the_sum_of_the_lexemes_it_begins() -> None:
    assert share([[(["vpn"], False)]], True, LISTED) == pytest.approx(0.18)
    assert share([[(["vpn"], True)]], True, LISTED) == pytest.approx(0.19)
    assert share([[(["print"], True)]], True, LISTED) == pytest.approx(0.07)
    assert share([[(["zyxel"], True)]], True, LISTED) == 0  # not listed: rarer than every listed one
    assert share([[(["网"], True)]], True, {"网络": 0.7, "网": 0.6}) == 1.0  # at most every document


def test_required_parts_and_units_count_as_the_rarest_any_unit_as_the_sum() -> None:
    phrase = [(["打印", "印机"], False)]  # 打印机: both bigrams, adjacent
    assert share([phrase], True, LISTED) == pytest.approx(0.15)
    assert share([phrase, [(["zyxel"], True)]], True, LISTED) == 0  # every word required
    assert share([phrase, [(["vpn"], False)]], False, LISTED) == pytest.approx(0.33)  # any word
    assert share([[(["vpn"], False), (["打印"], False)]], True, LISTED) == pytest.approx(0.15)  # ERP登录-like
    assert share([[([], False)]], True, LISTED) == 0 and share([], True, LISTED) == 0  # nothing asked
