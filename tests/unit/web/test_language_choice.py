"""Which catalog a language tag or an Accept-Language header gets (SPEC 15): pure functions, no app."""

from __future__ import annotations

import pytest

from itsm.web.i18n import catalog_name, negotiate


@pytest.mark.parametrize(("tag", "name"), [
    ("zh-CN", "zh_CN"), ("zh_CN", "zh_CN"), ("zh", "zh_CN"), ("zh-Hans", "zh_CN"), ("ZH-cn", "zh_CN"),
    ("zh-Hans-CN", "zh_CN"), ("en", "en"), ("en-GB", "en"), ("en_US", "en"), ("fr", None), ("", None),
    (None, None), ("  zh-CN ", "zh_CN"),
])
def test_language_tags_map_to_the_catalogs(tag: str | None, name: str | None) -> None:
    assert catalog_name(tag) == name


def test_accept_language_takes_the_best_quality_that_has_a_catalog() -> None:
    assert negotiate([("zh-CN", 1.0), ("zh", 0.9), ("en", 0.8)]) == "zh_CN"
    assert negotiate([("en-US", 1.0), ("zh-CN", 0.5)]) == "en"
    assert negotiate([("fr", 1.0), ("de", 0.9), ("zh-Hans", 0.5)]) == "zh_CN"
    assert negotiate([("en", 0.3), ("zh", 0.7)]) == "zh_CN"
    assert negotiate([("fr", 1.0)]) is None
    assert negotiate([("zh", 0.0), ("en", 0.1)]) == "en"
    assert negotiate([]) is None
