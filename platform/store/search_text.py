"""The text full-text search indexes and asks for, cut in Python: pure functions, no database (issue 15).

Neither FTS5's `unicode61` nor PostgreSQL's parser splits Chinese into words, so a run of Han characters is
written into the index as its overlapping bigrams (`打印机损坏` -> `打印 印机 机损 损坏`) followed by the
run's last character alone (`坏`, the *tail*; a lone character is its own tail). A query word of two or more
Han characters asks for its bigrams as a phrase (adjacent, in order: exactly the substring); a single
character asks for the tokens that begin with it (`网*`): every occurrence of a character is the first of a
bigram or the tail of its run, so that finds it wherever it is written (docs/search-zh.md). Everything else
is left as written, so that the databases' English configurations (FTS5 `porter unicode61`, PostgreSQL
`english`) see Latin words, numbers, e-mail addresses and host names exactly as before and keep stemming
them. Full-width letters, digits and punctuation (`ＡＢＣ１２３`, `，`) are folded to their ASCII forms first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
HAN_RUN = re.compile(f"[{HAN}]+")
# A query word: letters and digits of any script; everything else separates words (as before issue 15).
WORD = re.compile(r"[^\W_]+")
# Within a word, Han runs and the rest (`ERP登录` is `ERP` and `登录`).
WORD_PART = re.compile(f"[{HAN}]+|[^{HAN}]+")
# Full-width ASCII variants (U+FF01..U+FF5E) to ASCII, the ideographic space to a space.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

MAX_TEXT = 20_000  # characters of a query text that are read
MAX_WORDS = 32  # distinct words a query looks for: enough to rank, bounded cost on a long text
MAX_WORD_LENGTH = 64
SIMILAR_RUN = 4  # Han characters of a word in a known-error search beyond which it is a clause, not a word
# PostgreSQL's `english` stop words, dropped from queries on both databases, so a text of only stop words
# asks nothing on SQLite either (FTS5 keeps stop words in its index).
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can did do does doing don down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
off on once only or other our ours ourselves out over own s same she should so some such t than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with you your yours yourself yourselves
""".split())


def fold(text: str) -> str:
    """Full-width forms as their ASCII forms (`ＥＲＰ１２３` -> `ERP123`, `，` -> `,`)."""
    return text.translate(_FULL_WIDTH)


def han_tokens(run: str) -> list[str]:
    """The index tokens of one run of Han characters: its bigrams, then its last character."""
    return [run[i:i + 2] for i in range(len(run) - 1)] + [run[-1]]


def index_text(text: str) -> str:
    """`text` as it is stored for the index: folded, each Han run replaced by its tokens between spaces."""
    return HAN_RUN.sub(lambda run: " " + " ".join(han_tokens(run.group())) + " ", fold(text)).strip()


def query_words(text: str, limit: int = MAX_WORDS) -> list[str]:
    """The distinct words of `text` worth searching for, in order: folded, lower-cased, English stop words,
    single Latin letters and overlong words dropped, at most `limit`. Only letters and digits survive, so
    no query syntax can."""
    words: dict[str, None] = {}
    for word in WORD.findall(fold(text[:MAX_TEXT]).lower()):
        if word in STOP_WORDS or len(word) > MAX_WORD_LENGTH or (len(word) == 1 and word.isascii() and word.isalpha()):
            continue
        words.setdefault(word)
        if len(words) == limit:
            break
    return list(words)


@dataclass(frozen=True)
class Part:
    """One thing a query word requires: `text` as the database reads a word (`kind` "word", stemmed there),
    the Han bigrams `tokens` adjacent and in order ("phrase"), or a token starting with `text` ("prefix")."""

    kind: str
    text: str
    tokens: tuple[str, ...] = ()


def word_parts(word: str) -> list[Part]:
    """What a query word (one of `query_words`) requires, every part of it: `ERP登录` requires `erp` and the
    phrase `登录`; `打印机` the phrase `打印 印机`; `网` a token starting with `网`."""
    parts = []
    for piece in WORD_PART.findall(word):
        if not HAN_RUN.fullmatch(piece):
            parts.append(Part("word", piece))
        elif len(piece) == 1:
            parts.append(Part("prefix", piece))
        else:
            parts.append(Part("phrase", piece, tuple(piece[i:i + 2] for i in range(len(piece) - 1))))
    return parts


def query_units(words: Sequence[str], every: bool) -> list[tuple[Part, ...]]:
    """What a query asks, as units whose parts are all required: one unit per word (`word_parts`) when
    `every` word is required (the queue's search). When any word will do (known errors, searched with a
    whole description), a word with a Han run over SIMILAR_RUN characters (a clause written without
    spaces, `打印机卡纸了请处理`) is asked for by its pieces instead: each other part, and each bigram of
    the long run, is its own unit, so that texts sharing most of the clause rank first."""
    units: dict[tuple[Part, ...], None] = {}
    for word in words:
        parts = word_parts(word)
        if every or all(len(p.text) <= SIMILAR_RUN for p in parts if p.kind == "phrase"):
            units.setdefault(tuple(parts))
            continue
        for p in parts:
            if p.kind == "phrase" and len(p.text) > SIMILAR_RUN:
                for token in p.tokens:
                    units.setdefault((Part("phrase", token, (token,)),))
            else:
                units.setdefault((p,))
    return list(units)


def excerpt(texts: Iterable[str], words: Sequence[str], width: int = 60) -> str:
    """About `width` characters of the first of `texts` (raw, as people wrote them) where one of `words`
    occurs, around its first occurrence; the start of the first non-empty text when none does (a match
    through stemming: `printers` for `printer`)."""
    needles = [part.text.lower() if part.kind != "word" else _stem_prefix(part.text)
               for word in words for part in word_parts(word)]
    first = ""
    for raw in texts:
        text = " ".join(raw.split())  # line breaks and runs of spaces as one space
        if not text:
            continue
        first = first or text
        folded = fold(text).lower()
        found = [i for i in (folded.find(needle) for needle in needles if needle) if i >= 0]
        if found:
            return _cut(text, min(found), width)
    return _cut(first, 0, width)


def _stem_prefix(word: str) -> str:
    """What a stemmed word's matches all begin with, near enough to place an excerpt (`printers` -> `print`)."""
    return word if len(word) <= 4 else word[:max(4, len(word) - 3)]


def _cut(text: str, at: int, width: int) -> str:
    start = max(0, min(at - width // 3, len(text) - width))
    piece = text[start:start + width].strip()
    return ("…" if start > 0 else "") + piece + ("…" if start + width < len(text) else "")
