"""Text shown to people, in one language or in several (SPEC 15): `label: New` or `label: {zh-CN: 新建, en: New}`.

A `Text` is a frozen value the compiled model holds wherever the schema says "shown to people". Whoever
shows it asks for a language (`text.get("zh-CN")`); the fallback is the asked language, then the pack's
`language`, then the first language given. A plain string is one text for every language. The engine
never stores a `Text`: events and stored values keep ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# A language tag as packs write them (BCP 47's common shape): en, zh-CN, zh-Hans-CN, pt-BR, es-419.
LANGUAGE_PATTERN = "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
DEFAULT_LANGUAGE = "en"
_TAG = re.compile(LANGUAGE_PATTERN)


def is_language_tag(value: object) -> bool:
    return isinstance(value, str) and _TAG.match(value) is not None


@lru_cache(maxsize=512)
def _normal(tag: str) -> str:
    """zh_CN, ZH-cn and zh-CN are one tag (users' locales are written with either separator)."""
    return tag.strip().replace("_", "-").lower()


@dataclass(frozen=True)
class Text:
    """One text in one or more languages: `texts` holds (tag, text) pairs as written, or one pair with the
    tag "" for a plain string; `language` is the pack's language, the first fallback."""

    texts: tuple[tuple[str, str], ...]
    language: str = DEFAULT_LANGUAGE

    @classmethod
    def plain(cls, text: str, language: str = DEFAULT_LANGUAGE) -> Text:
        return cls((("", text),), language)

    @classmethod
    def of(cls, value: Any, language: str = DEFAULT_LANGUAGE) -> Text:
        """A Text from what a document holds: a string or a mapping of language tag -> string."""
        if isinstance(value, Text):
            return value if value.language == language else cls(value.texts, language)
        if isinstance(value, Mapping):
            return cls(tuple((str(tag), str(text)) for tag, text in value.items()), language)
        return cls.plain("" if value is None else str(value), language)

    @property
    def languages(self) -> tuple[str, ...]:
        """The tags written (none for a plain string)."""
        return tuple(tag for tag, _ in self.texts if tag)

    @property
    def by_language(self) -> dict[str, str]:
        """tag -> text as written; a plain string is {"": text}."""
        return dict(self.texts)

    def get(self, language: str | None = None) -> str:
        """The text in `language`; else in the pack's language; else the first one given. A tag matches
        exactly (zh-CN, zh_CN) or, failing that, by its language alone (zh asks for zh-CN, zh-Hans)."""
        if not self.texts:
            return ""
        if len(self.texts) == 1:
            return self.texts[0][1]
        for wanted in (language, self.language):
            found = self._match(wanted)
            if found is not None:
                return found
        return self.texts[0][1]

    def _match(self, wanted: str | None) -> str | None:
        if not wanted:
            return None
        tag = _normal(wanted)
        for written, text in self.texts:
            if _normal(written) == tag:
                return text
        primary = tag.split("-", 1)[0]
        for written, text in self.texts:
            if _normal(written).split("-", 1)[0] == primary:
                return text
        return None

    def has(self, language: str) -> bool:
        """Whether a text is written for `language` (a plain string counts for every language)."""
        if self.languages == ():
            return True
        tag = _normal(language)
        return any(_normal(written) == tag for written in self.languages)

    def all(self) -> tuple[str, ...]:
        """Every language's text (for checks that must see each of them, such as templates)."""
        return tuple(text for _, text in self.texts)

    def __str__(self) -> str:
        """The pack's language: what a caller that names no language shows (a CLI, a log line)."""
        return self.get()

    def __bool__(self) -> bool:
        return any(text for _, text in self.texts)


def text_of(value: Text | str | None, language: str | None = None) -> str:
    """`value` in `language` whether it is a Text or already a string (hand-built specs in tests hold str)."""
    if isinstance(value, Text):
        return value.get(language)
    return "" if value is None else str(value)
