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
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from index.kana_lexicon import KanaLexicon
from index.reading import fold_kana
from index.tokenizer import Tokenizer

FILE = "kanji_bigrams.npy"
_KANJI_RUN = re.compile(r"[一-龥々]{2,}")
CHUNK = 4096
MAX_SUSPECTS = 32  # unseen pairs read per query: a question has a few typos; 500 unknown kanji are no question
WINDOWS = (4, 3, 2)  # kanji in a window read for a correction, the longest first


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

    def _unseen(self, runs: list[str]) -> list[list[int]]:
        """For each kanji run, the positions i where run[i:i + 2] is a pair the corpus never uses (one search for all
        the runs of a query)."""
        if not len(self.bigrams) or not runs:
            return [[] for _ in runs]
        codes = [(ord(r[i]) << 16) | ord(r[i + 1]) for r in runs for i in range(len(r) - 1)]
        pairs = np.fromiter(codes, dtype=np.uint32, count=len(codes))
        seen = (self.bigrams[np.minimum(np.searchsorted(self.bigrams, pairs), len(self.bigrams) - 1)] == pairs).tolist()
        out, at = [], 0
        for r in runs:
            out.append([i for i in range(len(r) - 1) if not seen[at + i]])
            at += len(r) - 1
        return out

    def suspects(self, query: str) -> bool:
        """Whether ``query`` holds a pair of kanji the corpus never uses (no MeCab: the caller's thread may ask)."""
        return any(self._unseen(_KANJI_RUN.findall(query)))

    def corrections(self, query: str, tokenizer: Any) -> list[str]:
        """Corpus words that ``query``'s mistyped kanji stand for, in order. ``tokenizer``: an index.tokenizer
        Tokenizer; its MeCab tagger is this thread's, so call it on the thread that tokenises queries. One MeCab
        pass per suspect run: a window's reading is its words' (~0.1 ms a suspect query, against 2.3 ms when every
        window was read alone)."""
        runs = _KANJI_RUN.findall(query)
        out: list[str] = []
        examined = 0
        for run, unseen in zip(runs, self._unseen(runs)):
            if not unseen or examined >= MAX_SUSPECTS:
                continue
            words = [(w.surface, w.feature.kana) for w in tokenizer.tagger(run)]
            word_at, pos = {0: 0}, 0  # character offset in the run -> index of the word starting there
            for k, (surface, _) in enumerate(words, start=1):
                pos += len(surface)
                word_at[pos] = k
            for i in unseen[:MAX_SUSPECTS - examined]:
                fix = self._correct(run, i, words, word_at)
                if fix is not None and fix not in out:
                    out.append(fix)
            examined += len(unseen)
        return out

    def _correct(self, run: str, i: int, words: list[tuple[str, str | None]], word_at: dict[int, int]) -> str | None:
        for size in WINDOWS:
            for start in range(max(0, i + 2 - size), min(i, len(run) - size) + 1):
                if start not in word_at or start + size not in word_at:
                    continue  # a window cutting a word in two reads as nothing the user meant (対応時期 → 応時)
                kana = [k for _, k in words[word_at[start]:word_at[start + size]]]
                if not all(k and k != "*" for k in kana):
                    continue
                typed, reading = run[start:start + size], "".join(kana)  # type: ignore[arg-type]
                word = self.lexicon.words.get(fold_kana(reading))
                if (word is not None and word != typed and len(word) == size and _KANJI_RUN.fullmatch(word)
                        and any(a == b for a, b in zip(word, typed)) and _word_reading(word) == reading):
                    return word
        return None


@lru_cache(maxsize=4096)
def _word_reading(word: str) -> str | None:
    """MeCab's katakana reading of a corpus word read alone (the tagger of the calling thread); None where a part
    has none. Cached: the lexicon's words are few and their readings never change."""
    parts = []
    for w in Tokenizer().tagger(word):
        kana = w.feature.kana
        if not kana or kana == "*":
            return None
        parts.append(kana)
    return "".join(parts)
