"""Is anything in the corpus plausibly the answer? A calibrated, explainable rule over both retrievers.

Signals: the best dense cosine (e5 similarities sit high, ≈0.75–0.92, so only the top of that band means "on
topic"), and how much of the query the keyword side could match at all (the share of the query's content words,
weighted by IDF, that occur in the corpus's vocabulary). Thresholds were set from the dev questions and the
out-of-corpus questions in eval/ (see eval/calibrate.py), not per question.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from index.keyword import KeywordBackend

DENSE_STRONG = 0.86  # alone enough to call a result on topic
DENSE_WEAK = 0.83  # enough together with a solid keyword match
COVERAGE_MIN = 0.5  # share of the query's IDF mass found in the corpus vocabulary


@dataclass(frozen=True, slots=True)
class Confidence:
    confident: bool
    dense_top: float | None
    bm25_top: float | None
    coverage: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def coverage(tokens: list[str], keyword: KeywordBackend) -> float:
    """IDF-weighted share of query tokens present in the index vocabulary (unknown tokens get the max IDF)."""
    if not tokens:
        return 0.0
    n = float(keyword.retriever.scores["num_docs"])
    indptr = keyword.retriever.scores["indptr"]
    found = total = 0.0
    for t in tokens:
        tid = keyword.vocab.get(t)
        df = float(indptr[tid + 1] - indptr[tid]) if tid is not None and tid + 1 < len(indptr) else 0.0
        idf = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        total += idf
        if df > 0:
            found += idf
    return found / total if total else 0.0


def assess(tokens: list[str], bm25: list[tuple[int, float]], dense: list[tuple[int, float]],
           keyword: KeywordBackend) -> Confidence:
    cov = coverage(tokens, keyword)
    dense_top = dense[0][1] if dense else None
    bm25_top = bm25[0][1] if bm25 else None
    if dense_top is None:
        confident = cov >= 0.75 and bm25_top is not None
    else:
        confident = dense_top >= DENSE_STRONG or (dense_top >= DENSE_WEAK and cov >= COVERAGE_MIN)
    return Confidence(confident, dense_top, bm25_top, round(cov, 3))
