"""Issue 3: fusion methods, with expected values worked out by hand."""

from __future__ import annotations

import pytest

from index.fusion import convex_fusion, rrf_fusion


def test_rrf_by_hand() -> None:
    # bm25 ranks a=1, b=2; dense ranks b=1, c=2; k=60.
    # a: 1/61 = 0.016393…; b: 1/62 + 1/61 = 0.0325225; c: 1/62 = 0.016129…
    fused = rrf_fusion({"bm25": [1, 2], "dense": [2, 3]}, k=60)
    assert fused[1] == pytest.approx(1 / 61)
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[3] == pytest.approx(1 / 62)
    assert fused[2] == pytest.approx(0.0325225, abs=1e-7)


def test_weighted_rrf_by_hand() -> None:
    # bm25 weight 1.5: a (bm25 #1) = 1.5/61 = 0.024590; b (dense #1, bm25 #2) = 1.5/62 + 1/61 = 0.040587
    fused = rrf_fusion({"bm25": [1, 2], "dense": [2]}, k=60, weights={"bm25": 1.5, "dense": 1.0})
    assert fused[1] == pytest.approx(0.0245902, abs=1e-7)
    assert fused[2] == pytest.approx(0.0405870, abs=1e-7)


def test_convex_by_hand() -> None:
    # bm25 {a: 10, b: 5, c: 0} -> {1, 0.5, 0}; dense {a: 0.80, b: 0.90} -> {0, 1}; α = 0.3 on dense
    fused = convex_fusion({"bm25": {1: 10.0, 2: 5.0, 3: 0.0}, "dense": {1: 0.80, 2: 0.90}},
                          weights={"bm25": 0.7, "dense": 0.3})
    assert fused[1] == pytest.approx(0.7)
    assert fused[2] == pytest.approx(0.7 * 0.5 + 0.3)
    assert fused[3] == pytest.approx(0.0)


def test_convex_single_candidate_normalises_to_one() -> None:
    assert convex_fusion({"bm25": {7: 3.2}}, weights={"bm25": 1.0}) == {7: 1.0}
