"""Kanji typos read back into the corpus's words (index/homophones.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import homophones
from index.adapter import QueryAdapter
from index.homophones import FILE, HomophoneFixer, kanji_bigrams
from index.kana_lexicon import KanaLexicon
from index.tokenizer import Tokenizer

TEXTS = ["育成医療と養育医療の給付は対象となる。", "国庫補助額は基準額の二分の一。", "個人番号の利用を確保する。",
         "申請に応じて対応する時期", "機会を設ける。"]


@pytest.fixture(scope="module")
def fixer() -> HomophoneFixer:
    return HomophoneFixer(kanji_bigrams(TEXTS), KanaLexicon.collect(TEXTS))


def test_kanji_bigrams_are_the_corpus_pairs_of_adjacent_kanji() -> None:
    pairs = kanji_bigrams(["育成医療と国庫", "育成"])
    expected = sorted({(ord(a) << 16) | ord(b) for a, b in ("育成", "成医", "医療", "国庫")})
    assert pairs.tolist() == expected


@pytest.mark.parametrize("chunk", [7, 4096])
def test_kanji_bigrams_vectorised_equal_the_pairs_of_every_kanji_run(monkeypatch: pytest.MonkeyPatch,
                                                                     chunk: int) -> None:
    import random
    import re

    rng = random.Random(5)
    alphabet = "育成医療国庫補助額々一龥丁あいうアイウABC、。〇\U00020000 　"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(300)]
    want = {(ord(r[i]) << 16) | ord(r[i + 1]) for t in texts for r in re.findall(r"[一-龥々]{2,}", t)
            for i in range(len(r) - 1)}
    monkeypatch.setattr(homophones, "CHUNK", chunk)  # deduplicated along the way, or once at the end
    assert kanji_bigrams(texts).tolist() == sorted(want)
    assert kanji_bigrams([]).tolist() == []


@pytest.mark.parametrize(("query", "fixes"), [
    ("育生医療は対象になりますか", ["育成"]),   # 育生 (イクセイ): 育成's reading, one kanji in place
    ("要育医療も対象？", ["養育"]),
    ("国庫保助額はいくら", ["補助"]),          # MeCab knows 保助 as a word; the corpus does not
])
def test_a_mistyped_word_gets_the_corpus_word_of_its_reading(fixer: HomophoneFixer, query: str,
                                                             fixes: list[str]) -> None:
    assert fixer.suspects(query)
    assert fixer.corrections(query, Tokenizer()) == fixes


@pytest.mark.parametrize("query", [
    "学保法の援助",    # ガクホ is not カクホ (確保): the readings must match unfolded
    "対応時期はいつ",  # 応時 (オウジ) would be 応じ: a window may not cut a word in two
])
def test_no_correction_where_the_reading_or_the_words_do_not_match(fixer: HomophoneFixer, query: str) -> None:
    fixes = fixer.corrections(query, Tokenizer())
    assert "確保" not in fixes and "応じ" not in fixes


def test_a_query_of_the_corpus_pairs_is_not_suspect_and_not_read(fixer: HomophoneFixer) -> None:
    class NoTagger:
        @property
        def tagger(self):  # type: ignore[no-untyped-def]
            raise AssertionError("MeCab was asked to read a query with no unseen kanji pair")

    assert not fixer.suspects("育成医療の国庫補助額")
    assert fixer.corrections("育成医療の国庫補助額", NoTagger()) == []


def test_an_index_without_the_file_corrects_nothing(tmp_path: Path) -> None:
    fx = HomophoneFixer.load(tmp_path, KanaLexicon.collect(TEXTS))
    assert not fx.suspects("育生医療")
    assert fx.corrections("育生医療", Tokenizer()) == []
    HomophoneFixer(kanji_bigrams(TEXTS), fx.lexicon).save(tmp_path)
    assert np.array_equal(np.load(tmp_path / FILE), kanji_bigrams(TEXTS))
    assert HomophoneFixer.load(tmp_path, fx.lexicon).corrections("育生医療", Tokenizer()) == ["育成"]


def test_search_finds_the_clause_a_mistyped_programme_names(searcher) -> None:  # type: ignore[no-untyped-def]
    query = "育生医療は対象になりますか"
    assert (searcher.build_dir / FILE).exists()

    def rank(s) -> int | None:  # type: ignore[no-untyped-def]
        sections = [(h.doc, h.section) for h in s.search(query, k=20).hits]
        return sections.index(("jisshi-youkou", "4(1)ウ")) + 1 if ("jisshi-youkou", "4(1)ウ") in sections else None

    # The query adapter (index/adapter.py) learned 育成医療 questions and finds 4(1)ウ for this one by itself: the
    # fix is measured without it, in both arms.
    blind = replace(searcher.homophones, bigrams=np.zeros(0, dtype=np.uint32))
    original, adapter = searcher.homophones, searcher.adapter
    try:
        searcher.adapter = QueryAdapter()
        with_fix = rank(searcher)
        searcher.homophones = blind
        without = rank(searcher)
    finally:
        searcher.homophones, searcher.adapter = original, adapter
    assert with_fix is not None and with_fix <= 3
    assert without is None or without > with_fix


def test_a_query_of_unknown_kanji_reads_at_most_max_suspects_pairs(fixer: HomophoneFixer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = HomophoneFixer._correct

    def counting(self, run, i, *rest):  # type: ignore[no-untyped-def]
        calls.append(i)
        return real(self, run, i, *rest)

    monkeypatch.setattr(HomophoneFixer, "_correct", counting)
    query = "、".join(["鬱鬱鬱鬱鬱鬱鬱鬱鬱鬱"] * 20)  # 20 runs of 9 unseen pairs each
    fixer.corrections(query, Tokenizer())
    assert len(calls) == homophones.MAX_SUSPECTS
    calls.clear()
    assert fixer.corrections("育生医療", Tokenizer()) == ["育成"] and len(calls) >= 1
