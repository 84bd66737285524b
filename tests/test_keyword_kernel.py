"""BM25 sums in the compiled kernel (large indexes, index/keyword.py) are bit for bit the np.add.at sums."""

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
        kernel(scores, np.ones(2, np.float32), np.array([1, 7], np.int32), np.array([0]), np.array([2]))
