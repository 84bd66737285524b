"""Is anything in the corpus plausibly the answer? A calibrated, explainable rule over both retrievers.

Signals: how much of the query the corpus speaks about at all (the IDF-weighted share of the query's content words
that occur in the index vocabulary — a question about 空き家解体 or 児童手当 uses words these documents never
use), and the best dense cosine (e5 similarities sit high, ≈0.75–0.95, so only the top of that band means "on
topic"). Thresholds were set from the dev questions and the out-of-corpus questions in eval/ (see
eval/calibrate.py), between the two groups, never per question.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from index.keyword import KeywordBackend

# Read off eval/calibrate.py (dev questions vs eval/out-of-corpus.jsonl): every in-corpus question had all of its
# content words in the corpus vocabulary (coverage 1.0) while out-of-corpus ones reached at most 0.55, so the
# threshold sits between them; dense cosines overlap more (in 0.86–0.95, out 0.83–0.88) and serve as a floor, or
# alone only when far above every out-of-corpus question.
COVERAGE_MIN = 0.75
DENSE_FLOOR = 0.84
DENSE_STRONG = 0.93
ROW_COVERAGE_MIN = 0.4  # keyword-only mode: the query's words must also meet in one clause


@dataclass(frozen=True, slots=True)
class Confidence:
    confident: bool
    dense_top: float | None
    bm25_top: float | None
    coverage: float
    row_coverage: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def coverage(tokens: list[str], keyword: KeywordBackend, rows: list[int]) -> tuple[float, float]:
    """(corpus coverage, best-row coverage) of the query's tokens over ``rows`` (the keyword side's top hits)."""
    share, per_row = keyword.coverage(tokens, np.asarray(rows, dtype=np.int64))
    return share, float(per_row.max()) if len(per_row) else 0.0


def assess(tokens: list[str], bm25: list[tuple[int, float]], dense: list[tuple[int, float]],
           keyword: KeywordBackend) -> Confidence:
    cov, row_cov = coverage(tokens, keyword, [r for r, _ in bm25[:5]])
    dense_top = dense[0][1] if dense else None
    bm25_top = bm25[0][1] if bm25 else None
    if dense_top is None:
        confident = cov >= COVERAGE_MIN and row_cov >= ROW_COVERAGE_MIN
    else:
        confident = dense_top >= DENSE_STRONG or (cov >= COVERAGE_MIN and dense_top >= DENSE_FLOOR)
    return Confidence(confident, dense_top, bm25_top, round(cov, 3), round(row_cov, 3))
