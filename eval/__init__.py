"""Evaluation: question sets in, runs and metrics (R@1, R@5, MRR@10, nDCG@10) out; benchmarks."""
