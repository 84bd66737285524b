"""Rank fusion methods, one per module: reciprocal rank fusion and a convex combination of normalised scores."""

from index.fusion.convex import convex_fusion
from index.fusion.rrf import rrf_fusion

__all__ = ["convex_fusion", "rrf_fusion"]
