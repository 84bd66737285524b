"""Readings: text as kana bigrams, so 「がいさんばらいはできますか」 meets 概算払 and 「ほじょりつ」 meets 補助率.

MeCab gives each word of the documents its reading (概算払い → ガイサンハライ); a query typed in hiragana is its own
reading. Both become katakana with voicing, small kana and long-vowel marks folded (rendaku: 払い is ハライ alone and
バライ in がいさんばらい) and are indexed as character bigrams in a second BM25 index, which also forgives a wrong
kanji conversion (a typo that reads the same) and one-character slips.
"""

from __future__ import annotations

from corpus.textnorm import fold
from index.tokenizer import Tokenizer

_VOICED = str.maketrans(
    "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴァィゥェォャュョッヮヵヶ",
    "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホウアイウエオヤユヨツワカケ",
)
_HIRA_TO_KATA = {c: c + 0x60 for c in range(ord("ぁ"), ord("ゖ") + 1)}


def fold_kana(text: str) -> str:
    """Katakana, unvoiced, no small kana, no long-vowel marks: 「ばらい」 and 「ハライ」 both become ハライ."""
    return text.translate(_HIRA_TO_KATA).translate(_VOICED).replace("ー", "")


def bigrams(s: str) -> list[str]:
    s = "".join(s.split())
    if len(s) < 2:
        return [s] if s else []
    return [s[i:i + 2] for i in range(len(s) - 1)]


class ReadingTokenizer:
    """Thread-safe: the taggers are index.tokenizer.Tokenizer's, one per thread."""

    def __init__(self) -> None:
        self._tokenizer = Tokenizer()

    def reading(self, text: str) -> str:
        out = []
        for word in self._tokenizer.tagger(fold(text)):
            kana = word.feature.kana
            if word.feature.pos1 in ("補助記号", "空白"):
                out.append(" ")  # no bigram across punctuation
                continue
            out.append(kana if kana and kana != "*" else word.surface)
        return fold_kana("".join(out))

    def tokenize(self, text: str) -> list[str]:
        return [b for part in self.reading(text).split(" ") for b in bigrams(part)]
