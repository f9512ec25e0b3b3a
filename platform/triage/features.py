"""What a triage model reads of a text: character 1-3 grams of each Han run, word 1-2 grams of the rest.

Chinese is written without spaces, and a dictionary segmenter misses the desk's own words (docs/search-zh.md),
so a run of Han characters gives its characters, bigrams and trigrams (`打印机` -> `打 印 机 打印 印机 打印机`);
Latin letters and digits give lower-cased words and pairs of adjacent words (`printer`, `printer jam`). Each
feature carries a one-letter kind (`c` Han, `w` word) so that `w:erp` and a Han `erp` can never collide, and
`shown` turns a feature back into the words an agent reads.
"""

from __future__ import annotations

import re
import unicodedata

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
HAN_RUN = re.compile(f"[{HAN}]+")
WORD = re.compile(r"[^\W_]+")  # letters and digits of any script: what is left once Han runs are cut out
MAX_TEXT = 20_000  # characters of a text that are read: a pasted log says nothing more past that
HAN_GRAMS = (1, 2, 3)


def normalize(text: str) -> str:
    """NFKC (full-width `ＥＲＰ１２３` is `ERP123`), lower case, whitespace as single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text[:MAX_TEXT]).lower().split())


def features(text: str) -> list[str]:
    """The features of `text`, with repeats (the model counts them)."""
    text = normalize(text)
    out: list[str] = []
    for run in HAN_RUN.findall(text):
        for n in HAN_GRAMS:
            out.extend("c:" + run[i:i + n] for i in range(len(run) - n + 1))
    for piece in HAN_RUN.sub("|", text).split("|"):  # a Han run separates words: no pair across it
        words = WORD.findall(piece)
        out.extend("w:" + word for word in words)
        out.extend(f"w:{a} {b}" for a, b in zip(words, words[1:], strict=False))
    return out


def shown(feature: str) -> str:
    """A feature as people read it (`c:打印` -> `打印`)."""
    return feature[2:]


def highlights(text: str, weights: dict[str, float], count: int) -> tuple[str, ...]:
    """The pieces of `text` that the weighted features cover, as people read them: overlapping n-grams of one
    Han run join into one piece (`财务`, `务系`, `系统` give `财务系统`), heaviest piece first, at most
    `count`. A piece weighs what its features add up to."""
    text = normalize(text)
    covered = [False] * len(text)
    starts: list[tuple[int, float]] = []
    for feature, weight in weights.items():
        piece = shown(feature)
        if not piece:
            continue
        pattern = re.escape(piece) if feature.startswith("c:") else rf"(?<![^\W_]){re.escape(piece)}(?![^\W_])"
        for found in re.finditer(pattern, text):
            covered[found.start():found.end()] = [True] * (found.end() - found.start())
            starts.append((found.start(), weight))
            break  # the first occurrence says it; repeats weigh once
    pieces: dict[str, float] = {}
    i = 0
    while i < len(text):
        if not covered[i]:
            i += 1
            continue
        j = i
        while j < len(text) and covered[j]:
            j += 1
        piece = text[i:j].strip()
        weight = sum(w for at, w in starts if i <= at < j)
        if piece:
            pieces[piece] = pieces.get(piece, 0.0) + weight
        i = j
    return tuple(sorted(pieces, key=lambda p: -pieces[p])[:count])
