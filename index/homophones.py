"""Kanji typos → the corpus's word of the same reading: 「育生医療」 → 育成, 「国庫保助額」 → 補助, 「要育医療」 → 養育.

An input method that picks the wrong kanji for the right reading leaves a word the documents never use, and the
query loses its key term. The build saves every pair of adjacent kanji the corpus uses (``kanji_bigrams.npy``).
A query whose kanji hold a pair the corpus never uses is suspect; around that pair, a window of whole MeCab words
(2–4 kanji, the longest first) is read, and a corpus word (the kana lexicon's, index.kana_lexicon) of exactly that
reading — unfolded: 学保 (ガクホ) is not 確保 (カクホ) — with as many kanji and one of them in the same place is added
to the query, as the kana conversion adds its words. The user's own words stay, so a wrong guess only adds a word.

Measured on our own questions (nested 5-fold CV, eval/train.py): of the 15 questions it touches, three ranked the
right clause higher with one ranker and none lower (「育生医療は対象になりますか」 4(1)ウ 14th → 1st); over five fold seeds
R@1 0.786 → 0.790, R@5 0.917 → 0.922; typo style on fold seed 13: R@1 0.682 → 0.727, R@5 0.909 → 0.955.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.kana_lexicon import KanaLexicon
from index.reading import fold_kana

FILE = "kanji_bigrams.npy"
_KANJI_RUN = re.compile(r"[一-龥々]{2,}")
CHUNK = 4096
MAX_SUSPECTS = 32  # unseen pairs read per query: a question has a few typos; 500 unknown kanji are no question
WINDOWS = (4, 3, 2)  # kanji in a window read for a correction, the longest first


def _pairs(run: str) -> np.ndarray:
    codes = np.frombuffer(run.encode("utf-32-le"), dtype=np.uint32)  # one code point each; kanji are in the BMP
    return (codes[:-1] << np.uint32(16)) | codes[1:]


def kanji_bigrams(texts: Iterable[str]) -> np.ndarray:
    """Every pair of adjacent kanji in ``texts``, packed (first << 16 | second), sorted and unique. Vectorised per
    text and deduplicated every CHUNK texts: the statute archive has ~10^8 characters."""
    seen = np.zeros(0, dtype=np.uint32)
    batch: list[np.ndarray] = []
    for i, text in enumerate(texts, start=1):
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        kanji = ((codes >= 0x4E00) & (codes <= 0x9FA5)) | (codes == 0x3005)  # _KANJI_RUN's 一-龥 and 々
        both = kanji[:-1] & kanji[1:]
        batch.append((codes[:-1][both] << np.uint32(16)) | codes[1:][both])
        if i % CHUNK == 0:
            seen = np.unique(np.concatenate([seen, *batch]))
            batch = []
    return np.unique(np.concatenate([seen, *batch])) if batch else seen


@dataclass(frozen=True, slots=True, eq=False)
class HomophoneFixer:
    bigrams: np.ndarray  # kanji_bigrams of the corpus
    lexicon: KanaLexicon

    def save(self, directory: Path) -> None:
        np.save(directory / FILE, self.bigrams, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, lexicon: KanaLexicon) -> HomophoneFixer:
        """An index built before this file has none: nothing is then suspect, nothing corrected."""
        path = directory / FILE
        pairs = np.load(path, allow_pickle=False) if path.exists() else np.zeros(0, dtype=np.uint32)
        return cls(pairs, lexicon)

    def _unseen(self, run: str) -> list[int]:
        """Positions i where run[i:i + 2] is a pair of kanji the corpus never uses."""
        if not len(self.bigrams):
            return []
        pairs = _pairs(run)
        at = np.searchsorted(self.bigrams, pairs)
        seen = (at < len(self.bigrams)) & (self.bigrams[np.minimum(at, len(self.bigrams) - 1)] == pairs)
        return [int(i) for i in np.flatnonzero(~seen)]

    def suspects(self, query: str) -> bool:
        """Whether ``query`` holds a pair of kanji the corpus never uses (no MeCab: the caller's thread may ask)."""
        return any(self._unseen(run) for run in _KANJI_RUN.findall(query))

    def corrections(self, query: str, tokenizer: Any) -> list[str]:
        """Corpus words that ``query``'s mistyped kanji stand for, in order. ``tokenizer``: an index.tokenizer
        Tokenizer; its MeCab tagger is this thread's, so call it on the thread that tokenises queries."""
        out: list[str] = []
        examined = 0
        for run in _KANJI_RUN.findall(query):
            unseen = self._unseen(run)
            if not unseen or examined >= MAX_SUSPECTS:
                continue
            tagger = tokenizer.tagger
            bounds, pos = {0}, 0
            for word in tagger(run):
                pos += len(word.surface)
                bounds.add(pos)
            for i in unseen[:MAX_SUSPECTS - examined]:
                fix = self._correct(run, i, bounds, tagger)
                if fix is not None and fix not in out:
                    out.append(fix)
            examined += len(unseen)
        return out

    def _correct(self, run: str, i: int, bounds: set[int], tagger: Any) -> str | None:
        for size in WINDOWS:
            for start in range(max(0, i + 2 - size), min(i, len(run) - size) + 1):
                if start not in bounds or start + size not in bounds:
                    continue  # a window cutting a word in two reads as nothing the user meant (対応時期 → 応時)
                typed = run[start:start + size]
                reading = _reading(typed, tagger)
                word = self.lexicon.words.get(fold_kana(reading)) if reading else None
                if (word is not None and word != typed and len(word) == size and _KANJI_RUN.fullmatch(word)
                        and any(a == b for a, b in zip(word, typed)) and _reading(word, tagger) == reading):
                    return word
        return None


def _reading(text: str, tagger: Any) -> str | None:
    """MeCab's katakana reading of ``text``; None where a word has none."""
    parts = []
    for word in tagger(text):
        kana = word.feature.kana
        if not kana or kana == "*":
            return None
        parts.append(kana)
    return "".join(parts)
