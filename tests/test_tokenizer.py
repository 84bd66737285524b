"""Issue 3: the Japanese tokenizer's choices (width folding, lemmas, numbers, dropped words)."""

from __future__ import annotations

import pytest

from corpus.textnorm import fold
from index.tokenizer import Tokenizer, TokenizerConfig


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer()


def test_width_and_case_folding(tok: Tokenizer) -> None:
    assert tok("ＰＭＨシステム") == tok("PMHシステム") == tok("pmhシステム")
    assert "pmh" in tok("ＰＭＨ")
    assert tok("２−１１") == tok("2-11")


def test_a_dash_after_katakana_is_the_long_vowel_mark(tok: Tokenizer) -> None:
    """An input method's dash for ー (ベンタ―, サ－ビス) matches the corpus's spelling; a hyphen before kanji, digits or
    Latin stays one (citations such as 2-5 keep theirs)."""
    assert tok("コールセンタ―に電話") == tok("コールセンターに電話")
    assert tok("サ－ビス") == tok("サービス")
    assert fold("レセコン‐改修") == "レセコン-改修" and fold("Ｑ＆Ａ ２－５") == "q&a 2-5"


def test_lemmas_join_inflections(tok: Tokenizer) -> None:
    assert "基づく" in tok("学校保健安全法に基づき") and "基づく" in tok("学校保健安全法に基づく")
    assert "システム" in tok("システム")  # unidic's "システム-system" lemma loses its origin suffix
    assert "メモリー" in tok("USBメモリ")  # the dictionary's lemma folds the spelling variant


def test_particles_auxiliaries_symbols_and_question_words_dropped(tok: Tokenizer) -> None:
    tokens = tok("システム改修はいつまでに完了させる必要がありますか。")
    assert tokens == ["システム", "改修", "完了", "必要"]
    assert tok("事業の内容を教えてください") == ["事業", "内容"]


def test_numbers_stay_usable(tok: Tokenizer) -> None:
    tokens = tok("令和８年度の基準額は500万円×制度数、補助率は1/2、交付決定後２ヶ月以内")
    for phrase in ("令和8年度", "500万円", "1/2", "2ヶ月"):
        assert phrase in tokens
    assert "500" in tokens and "8" in tokens  # the parts are kept as well


def test_configurable_variants() -> None:
    surface = Tokenizer(TokenizerConfig(lemmas=False))
    assert "基づき" in surface("基づき")
    bigrams = Tokenizer(TokenizerConfig(bigrams=True))
    assert "医療_費" in bigrams("医療費援助")


def test_empty_and_symbol_only_input(tok: Tokenizer) -> None:
    assert tok("") == []
    assert tok("。、！？「」") == []
