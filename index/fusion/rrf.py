"""Reciprocal rank fusion.

Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and individual Rank Learning Methods",
SIGIR 2009: score(d) = Σ_r w_r / (k + rank_r(d)), ranks starting at 1; a system that did not rank d adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def rrf_fusion(rankings: Mapping[str, Sequence[int]], *, k: float = 60.0,
               weights: Mapping[str, float] | None = None) -> dict[int, float]:
    """Fuse rankings (system -> item ids, best first) into item -> RRF score."""
    fused: dict[int, float] = {}
    for system, ranking in rankings.items():
        w = 1.0 if weights is None else weights.get(system, 1.0)
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + w / (k + rank)
    return fused
