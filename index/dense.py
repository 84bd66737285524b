"""Dense side: passage embeddings in faiss (exact inner product when small, HNSW above a measured size).

Vectors are L2-normalised, so inner product is cosine similarity. A clause scores as its best passage.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.backend import Backend

log = logging.getLogger(__name__)

# Measured by eval/bench.py on 2 cores: exact search over 225k passages costs ~15 ms p50, while HNSW32 at efSearch
# 128 found only ~0.78 of the exact top-10 clauses (on partly synthetic vectors). Speed is not bought with silent
# recall loss: exact search up to 300k passages, HNSW only beyond, with a generous efSearch.
APPROX_THRESHOLD = 300_000
# Vectors stored as float16 in the HNSW graph: half the memory (326,668 passages: 324 instead of 563 MiB) for the
# same neighbours: recall@10 against exact search 0.833 (fp16) vs 0.826 (fp32) at efSearch 256, 326,668 passages
# (the statute archive's count) of DERIVED vectors, 200 real query vectors; search 1.6 vs 1.3 ms.
APPROX_FACTORY = "HNSW32,SQfp16"
# On REAL e5 vectors (800 real and perturbed questions; clause recall@10 against exact search, best passage per clause
# as the dense side ranks). 40,000 statute passages: efConstruction 80 / efSearch 256 found 0.965, 80 / 512 0.986,
# 200 / 256 0.981, 200 / 512 0.991 (0.75 ms a query), 200 / 1024 0.994. Every passage of the statute archive (326,668,
# embedded in bf16 for the purpose; eval/bench_real_vectors.py), efConstruction 200, strictly / with ties counted (a
# clause within 1e-4 of the exact tenth's score, the float16 vectors' own error: eval.bench_baselines.clause_recall):
# efSearch 512 0.976 / 0.983 (2.0 ms), 768 0.983 / 0.990 (2.9 ms), 1024 0.987 / 0.994 (3.8 ms), 1536 0.989 / 0.996
# (5.8 ms), 2048 0.990 / 0.997 (8.5 ms); exact search over float16 vectors, the other choice, 0.993 / 0.999 (50 ms).
# Of the clauses efSearch 2048 missed, three in four were such ties. HNSW serves only indexes of APPROX_THRESHOLD
# passages or more, so the setting is the one measured at that scale: 1024, the least with ≥ 0.99 with ties counted
# and a margin (2048 cost a quarter of a statute-scale query's CPU for 0.3 % of the tenth places).
EF_CONSTRUCTION = 200
EF_SEARCH = 1024
EXACT_FACTORY = "Flat"
SELECTOR_CACHE = 32  # filter masks whose faiss selector is kept (the default mask is asked for on every query)


def factory_for(n: int) -> str:
    return APPROX_FACTORY if n >= APPROX_THRESHOLD else EXACT_FACTORY


class DenseBackend(Backend):
    name = "dense"

    def __init__(self, index: faiss.Index, passage_rows: np.ndarray, factory: str) -> None:
        self.index = index
        self.passage_rows = passage_rows  # passage id -> clause row
        self.factory = factory
        self.n_rows = int(passage_rows.max()) + 1 if len(passage_rows) else 0
        self._selectors: OrderedDict[bytes, tuple[faiss.IDSelector, np.ndarray] | None] = OrderedDict()
        self._selectors_lock = threading.Lock()

    @classmethod
    def build(cls, vectors: np.ndarray, passage_rows: np.ndarray, factory: str | None = None) -> DenseBackend:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        factory = factory or factory_for(len(vectors))
        index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        if factory.startswith("HNSW"):
            index.hnsw.efConstruction = EF_CONSTRUCTION
        if not index.is_trained:  # a scalar quantiser learns its range (float16: nothing to learn, but asked)
            index.train(vectors)
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
            faiss.downcast_index(index).hnsw.efSearch = EF_SEARCH
        rows = np.load(directory / "passage_rows.npy", mmap_mode="r")
        return cls(index, np.asarray(rows), factory)

    def rank(self, query: Any, allowed: np.ndarray | None, k: int) -> list[tuple[int, float]]:
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        n = int(self.index.ntotal)
        if n == 0:
            return []
        params = None
        if allowed is not None and not allowed.all():
            selector = self._selector(allowed)
            if selector is None:
                return []
            params = faiss.SearchParameters(sel=selector)
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

    def _selector(self, allowed: np.ndarray) -> faiss.IDSelector | None:
        """A faiss selector of the passages of the ``allowed`` rows (None: no passage allowed), cached per mask.

        A bitmap (one bit per passage) rather than an IDSelectorBatch: building a batch selector hashes every
        allowed id, ~25 ms per query at 200k passages, and the same default mask comes back on every query."""
        key = np.packbits(allowed).tobytes() + len(allowed).to_bytes(8, "little")
        with self._selectors_lock:
            if key in self._selectors:
                self._selectors.move_to_end(key)
                hit = self._selectors[key]
                return hit[0] if hit is not None else None
        passages = allowed[self.passage_rows]
        entry: tuple[faiss.IDSelector, np.ndarray] | None = None
        if passages.any():
            bitmap = np.packbits(passages, bitorder="little")
            entry = (faiss.IDSelectorBitmap(bitmap), bitmap)  # the array must outlive the selector
        with self._selectors_lock:
            self._selectors[key] = entry
            while len(self._selectors) > SELECTOR_CACHE:
                self._selectors.popitem(last=False)
        return entry[0] if entry is not None else None
