"""Convex combination of min-max normalised scores.

Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS 2023: score(d) =
α·norm(s_dense(d)) + (1−α)·norm(s_lex(d)), with min-max normalisation over each system's candidate list; an item a
system did not return gets 0 from that system.
"""

from __future__ import annotations

from collections.abc import Mapping


def _minmax(scores: Mapping[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi <= lo:
        return {i: 1.0 for i in scores}
    return {i: (s - lo) / (hi - lo) for i, s in scores.items()}


def convex_fusion(scores: Mapping[str, Mapping[int, float]], *, weights: Mapping[str, float]) -> dict[int, float]:
    """Fuse per-system scores (system -> item -> raw score) with weights that sum to 1."""
    fused: dict[int, float] = {}
    for system, system_scores in scores.items():
        w = weights.get(system, 0.0)
        for item, s in _minmax(system_scores).items():
            fused[item] = fused.get(item, 0.0) + w * s
    return fused
