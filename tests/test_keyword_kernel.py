"""BM25 sums in the compiled kernel (large indexes, index/keyword.py) are bit for bit the np.add.at sums, and so
are the sums that add a frequent token's dense column instead of scattering its postings."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from index import keyword
from index.keyword import KeywordBackend


def _index(tmp_path: Path) -> tuple[Path, list[str]]:
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(300)]
    docs = [[rng.choice(vocab[: rng.randint(5, 300)]) for _ in range(rng.randint(0, 40))] for _ in range(2_000)]
    KeywordBackend.build(docs).save(tmp_path)
    return tmp_path, vocab


def test_kernel_sums_equal_add_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory, vocab = _index(tmp_path)
    plain = KeywordBackend.load(directory)
    assert plain.retriever._kernel is None  # 2,000 rows: below NOGIL_ROWS
    monkeypatch.setattr(keyword, "NOGIL_ROWS", 1)
    compiled = KeywordBackend.load(directory)
    assert compiled.retriever._kernel is not None
    rng = random.Random(11)
    for _ in range(50):
        query = [rng.choice(vocab) for _ in range(rng.randint(1, 12))]  # repeats included
        a, b = plain.scores(query), compiled.scores(query)
        assert a.dtype == b.dtype == np.float32
        assert np.array_equal(a, b)
        assert plain.rank(query, None, 10) == compiled.rank(query, None, 10)
    assert compiled.scores(["not-a-word"]).sum() == 0


def test_kernel_refuses_a_damaged_posting_list() -> None:
    kernel = keyword._nogil_kernel()
    scores = np.zeros(3, dtype=np.float32)
    with pytest.raises(IndexError):  # a row beyond the index, as np.add.at would refuse it
        kernel(scores, np.ones(2, np.float32), np.array([1, 7], np.int32), np.array([0]), np.array([2]),
               np.array([-1], np.int32), np.zeros((0, 3), np.float32))


@pytest.mark.parametrize("rows", [2_000, 1])  # NOGIL_ROWS: np.add.at, then the compiled kernel
def test_dense_columns_of_frequent_tokens_give_the_same_sums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             rows: int) -> None:
    monkeypatch.setattr(keyword, "NOGIL_ROWS", rows)
    directory, vocab = _index(tmp_path)
    with_columns = KeywordBackend.load(directory)
    heavy = np.load(directory / "bm25" / keyword.HEAVY_TOKENS)
    df = np.diff(np.load(directory / "bm25" / "indptr.csc.index.npy"))
    assert 0 < len(heavy) < len(vocab) and (df[heavy] > keyword.HEAVY_SHARE * 2_000).all()
    assert (df[np.setdiff1d(np.arange(len(df)), heavy)] <= keyword.HEAVY_SHARE * 2_000).all()
    for name in (keyword.HEAVY_TOKENS, keyword.HEAVY_COLUMNS):  # an index saved before the columns
        (directory / "bm25" / name).unlink()
    postings_only = KeywordBackend.load(directory)
    assert len(postings_only.retriever.columns) == 0
    frequent = [t for t, i in with_columns.vocab.items() if i in set(heavy.tolist())]
    rng = random.Random(12)
    for _ in range(60):
        query = [rng.choice(vocab + frequent * 3) for _ in range(rng.randint(1, 15))]  # repeats included
        a, b = with_columns.scores(query), postings_only.scores(query)
        assert np.array_equal(a, b), query
        assert with_columns.rank(query, None, 10) == postings_only.rank(query, None, 10)
        rows = np.array(sorted(rng.sample(range(2_000), 40)))
        cov_a, per_row_a = with_columns.coverage(query + ["not-a-word"], rows)
        cov_b, per_row_b = postings_only.coverage(query + ["not-a-word"], rows)
        assert cov_a == cov_b and np.array_equal(per_row_a, per_row_b)  # membership read off the columns


def test_columns_that_do_not_fit_their_index_are_refused(tmp_path: Path) -> None:
    from corpus.errors import IndexMismatch

    directory, _ = _index(tmp_path)
    columns = np.load(directory / "bm25" / keyword.HEAVY_COLUMNS)
    np.save(directory / "bm25" / keyword.HEAVY_COLUMNS, columns[:, :-1])
    with pytest.raises(IndexMismatch, match="rebuild"):
        KeywordBackend.load(directory)
