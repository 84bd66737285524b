"""A learned query adapter: e5's query vector moved by a linear map fitted on our own questions.

e5-small places 「心の病気で精神科に通院」 far from 精神通院医療 and a question about a bed near every clause that says
病床; BM25 cannot bridge the words either. The adapter is q' = normalise(q + q W), W a d×d matrix fitted by
``python -m eval.train`` (eval/learn.py ``fit_adapter``): for each of our questions, a softmax over every passage of the
index, the passages of the expected clause as the target, W L2-regularised. Passage vectors are not touched, so the
index needs no rebuild. The ranker reads it as two more features of each candidate clause (the adapted cosine's gap
to the best candidate, and its rank among the candidates); the raw cosine stays a feature of its own.

Shipped as ``data/query_adapter.npy`` (float32, open format) beside ``query_adapter.json`` (the embedding model it
was fitted for, how, and its cross-validated figures). An adapter fitted for another model or dimension is not
applied: the search falls back to the identity (q' = q, a warning in the log), and the two features then repeat
the raw cosine.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

BUNDLED_ADAPTER = Path(__file__).parent / "data" / "query_adapter.npy"


@dataclass(frozen=True, slots=True)
class QueryAdapter:
    """``matrix``: the d×d W of q' = normalise(q + q W); None is the identity."""

    matrix: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def apply(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float32).reshape(-1)
        if self.matrix is None:
            return q
        moved = q + q @ self.matrix
        norm = float(np.linalg.norm(moved))
        return moved / norm if norm > 0 else q

    def save(self, path: Path) -> None:
        if self.matrix is None:
            raise ValueError("the identity adapter has nothing to save")
        np.save(path, self.matrix.astype(np.float32))
        path.with_suffix(".json").write_text(json.dumps(self.info, ensure_ascii=False, indent=1), "utf-8")

    @classmethod
    def load(cls, path: Path = BUNDLED_ADAPTER, *, model: str | None = None, dim: int | None = None) -> QueryAdapter:
        """The adapter at ``path`` when it was fitted for ``model`` (the index's embedding model) and ``dim``; else the
        identity, with a warning saying why."""
        path = Path(path)
        if not path.exists():
            log.warning("no query adapter at %s: the adapted-cosine features repeat the raw cosine", path)
            return cls()
        meta = path.with_suffix(".json")
        info = json.loads(meta.read_text("utf-8")) if meta.exists() else {}
        matrix = np.load(path, allow_pickle=False).astype(np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or (dim is not None and matrix.shape[0] != dim):
            log.warning("query adapter %s has shape %s, not (%s, %s): not applied", path, matrix.shape, dim, dim)
            return cls()
        fitted_for = info.get("model")
        if model is not None and fitted_for is not None and fitted_for != model:
            log.warning("query adapter %s was fitted for %s, the index uses %s: not applied (refit it with "
                        "`python -m eval.train --write`)", path, fitted_for, model)
            return cls()
        return cls(matrix, info)


def candidate_columns(cosines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gap to the best candidate's cosine, 1 / rank among the candidates) of each candidate's adapted cosine; ties
    share the better rank."""
    if len(cosines) == 0:
        return np.zeros(0), np.zeros(0)
    ranks = np.searchsorted(np.sort(-cosines), -cosines, side="left") + 1
    return cosines - cosines.max(), 1.0 / ranks
