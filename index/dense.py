"""Dense side: passage embeddings in faiss (exact inner product when small, HNSW above a measured size).

Vectors are L2-normalised, so inner product is cosine similarity. A clause scores as its best passage.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.backend import Backend

log = logging.getLogger(__name__)

# Above this many passages exact search stops being cheap enough on 2 cores (see eval/bench.py figures).
APPROX_THRESHOLD = 50_000
APPROX_FACTORY = "HNSW32,Flat"
EXACT_FACTORY = "Flat"


def factory_for(n: int) -> str:
    return APPROX_FACTORY if n >= APPROX_THRESHOLD else EXACT_FACTORY


class DenseBackend(Backend):
    name = "dense"

    def __init__(self, index: faiss.Index, passage_rows: np.ndarray, factory: str) -> None:
        self.index = index
        self.passage_rows = passage_rows  # passage id -> clause row
        self.factory = factory
        self.n_rows = int(passage_rows.max()) + 1 if len(passage_rows) else 0

    @classmethod
    def build(cls, vectors: np.ndarray, passage_rows: np.ndarray, factory: str | None = None) -> DenseBackend:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        factory = factory or factory_for(len(vectors))
        index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        if factory.startswith("HNSW"):
            index.hnsw.efConstruction = 80
        index.add(vectors)
        return cls(index, passage_rows.astype(np.int32), factory)

    def save(self, directory: Path) -> dict[str, Any]:
        faiss.write_index(self.index, str(directory / "dense.faiss"))
        np.save(directory / "passage_rows.npy", self.passage_rows)
        return {"factory": self.factory, "dim": self.index.d, "passages": int(self.index.ntotal),
                "faiss": faiss.__version__}

    @classmethod
    def load(cls, directory: Path, factory: str) -> DenseBackend:
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if factory == EXACT_FACTORY else 0
        index = faiss.read_index(str(directory / "dense.faiss"), flags)
        if factory.startswith("HNSW"):
            faiss.downcast_index(index).hnsw.efSearch = 128
        rows = np.load(directory / "passage_rows.npy", mmap_mode="r")
        return cls(index, np.asarray(rows), factory)

    def rank(self, query: Any, allowed: np.ndarray | None, k: int) -> list[tuple[int, float]]:
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        n = int(self.index.ntotal)
        if n == 0:
            return []
        params = None
        if allowed is not None and not allowed.all():
            ids = np.flatnonzero(allowed[self.passage_rows]).astype(np.int64)
            if len(ids) == 0:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
        # Several passages can belong to one clause: ask for more passages than clauses wanted.
        want = min(n, max(k * 4, 50))
        scores, ids = self.index.search(q, want, params=params)
        best: dict[int, float] = {}
        for pid, s in zip(ids[0], scores[0]):
            if pid < 0:
                continue
            row = int(self.passage_rows[pid])
            if row not in best or s > best[row]:
                best[row] = float(s)
        return sorted(best.items(), key=lambda x: -x[1])[:k]
