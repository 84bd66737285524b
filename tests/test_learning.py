"""Issue 11: the pieces of the learned fusion — fitting, calibration measures, vocabulary, readings — with expected
values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from eval.learn import brier, fit_listwise, fit_logistic, kfold, reliability
from index.kana_lexicon import KanaLexicon
from index.reading import bigrams, fold_kana
from index.vocabulary import Vocabulary, default_vocabulary


def test_brier_by_hand() -> None:
    # ((0.9-1)^2 + (0.2-0)^2 + (0.6-1)^2 + (0.5-0)^2) / 4 = (0.01 + 0.04 + 0.16 + 0.25) / 4 = 0.115
    assert brier(np.array([0.9, 0.2, 0.6, 0.5]), np.array([1, 0, 1, 0])) == pytest.approx(0.115)


def test_reliability_bins_by_hand() -> None:
    bins = reliability(np.array([0.05, 0.15, 0.95, 0.91]), np.array([0, 1, 1, 0]), bins=2)
    assert bins == [{"lo": 0.0, "hi": 0.5, "predicted": 0.1, "observed": 0.5, "count": 2},
                    {"lo": 0.5, "hi": 1.0, "predicted": 0.93, "observed": 0.5, "count": 2}]


def test_kfold_partitions_every_item_once() -> None:
    folds = kfold(23, 5)
    assert sorted(int(i) for f in folds for i in f) == list(range(23))
    assert {len(f) for f in folds} <= {4, 5}


def test_listwise_learns_the_informative_feature() -> None:
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(60):
        x = rng.normal(size=(8, 2))  # feature 0 tells the relevant candidate, feature 1 is noise
        y = np.zeros(8, dtype=bool)
        y[int(np.argmax(x[:, 0]))] = True
        groups.append((x, y))
    w, std = fit_listwise(groups, l2=0.001)
    assert w[0] > 5 * abs(w[1])
    hits = sum(bool(y[int(np.argmax(std(x) @ w))]) for x, y in groups)
    assert hits == len(groups)


def test_logistic_is_calibrated_on_a_known_rate() -> None:
    # one constant feature, outcome 1 in 30 % of cases: the fitted probability must be 0.3
    x = np.ones((100, 1))
    y = np.array([1] * 30 + [0] * 70)
    w, b, std = fit_logistic(x, y, l2=0.0)
    p = 1 / (1 + np.exp(-(std(x) @ w + b)))
    assert p == pytest.approx(np.full(100, 0.3), abs=1e-3)


def test_vocabulary_adds_official_terms_longest_match_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "v.tsv"
    f.write_text("# comment\nオンライン資格確認\tオン資\n補助率\t補助割合\n補助金\t補助\n", "utf-8")
    v = Vocabulary.load(f)
    assert v.expansions("オン資の補助割合は") == ["オンライン資格確認", "補助率"]
    assert v.expansions("補助率はいくら") == []  # 「補助」 inside 「補助率」 is not the variant of 補助金
    assert v.expansions("オンライン資格確認とオン資") == []  # the query already uses the official term


def test_bundled_vocabulary_loads() -> None:
    assert "システム改修" in default_vocabulary().expansions("システム代は出ますか")


def test_kana_folding_and_bigrams() -> None:
    assert fold_kana("がいさんばらい") == fold_kana("ガイサンハライ") == "カイサンハライ"
    assert fold_kana("ちょうふく") == "チヨウフク"
    assert bigrams("アイウ") == ["アイ", "イウ"]


def test_kana_lexicon_converts_hiragana_to_corpus_words() -> None:
    lex = KanaLexicon.collect(["養育医療は対象となる。", "概算払を行う。"])
    assert lex.convert("よういくいりょうもたいしょう？") == ["養育", "医療", "対象"]
    assert "概算" in lex.convert("がいさんばらいはできますか")
    assert lex.convert("補助率はいくらですか") == []  # no hiragana run that reads as a corpus word


def test_kana_segmentation_prefers_the_reading_that_explains_the_run() -> None:
    # Readings by hand (folded: small kana and voicing): イリヨウ 医療, イリヨウヒ 医療費, ヒシヨ 秘書, シヨセイ 助成,
    # and ウヒ, a made-up two-kana decoy.
    lex = KanaLexicon({"イリヨウ": "医療", "イリヨウヒ": "医療費", "ヒシヨ": "秘書", "シヨセイ": "助成",
                       "ウヒ": "雨費"}, 5)
    assert lex.convert("いりょうひじょせいはたいしょう") == ["医療費", "助成"]
    # 「いりょうひしょ」: 医療 + 秘書 (3 + 2 points) beats 医療費 alone (4 points) and leaves nothing unexplained
    assert lex.convert("いりょうひしょ") == ["医療", "秘書"]
    # a two-kana reading is never matched on its own (ウヒ), though the lexicon knows it
    assert lex.convert("あうひあ") == []
