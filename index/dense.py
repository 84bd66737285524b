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

from corpus.errors import IndexMismatch
from index.backend import Backend
from index.vector_rows import NpyRows

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
# Of the clauses efSearch 2048 missed, three in four were such ties — hence the rescoring below. Rescored, on the same
# vectors and questions (strict): efConstruction 200: efSearch 768 0.990, 1024 0.993; HNSW48 768 0.990, SQ8 (int8
# storage) 768 0.990; efConstruction 400: efSearch 512 0.990 (2.5 ms), **768 0.995** (3.6 ms), 1024 0.997. A graph
# built with the wider efConstruction (6.4 against 2 minutes here) finds as much with three quarters of the search.
# HNSW serves only indexes of APPROX_THRESHOLD passages or more, so the setting is the one measured at that scale.
EF_CONSTRUCTION = 400
EF_SEARCH = 768
EXACT_FACTORY = "Flat"
# The approximate index's candidates are rescored with the float32 vectors, read from disk per query
# (index/vector_rows.py): the float16 graph finds the neighbours, exact inner products order them. Without it a
# clause one float16 rounding below another could swap places with it at the tenth (efConstruction 200, efSearch 1024:
# strict clause recall@10 0.987 as found, 0.993 rescored; eval/bench_real_vectors.py recall prints both).
RESCORE_FILE = "dense_vectors.npy"
SELECTOR_CACHE = 32  # filter masks whose faiss selector is kept (the default mask is asked for on every query)


def factory_for(n: int) -> str:
    return APPROX_FACTORY if n >= APPROX_THRESHOLD else EXACT_FACTORY


class DenseBackend(Backend):
    name = "dense"

    def __init__(self, index: faiss.Index, passage_rows: np.ndarray, factory: str,
                 exact: np.ndarray | NpyRows | None = None) -> None:
        self.index = index
        self.passage_rows = passage_rows  # passage id -> clause row
        self.factory = factory
        self.exact = exact  # float32 vectors that rescore an approximate index's candidates (None: scores as found)
        self.n_rows = int(passage_rows.max()) + 1 if len(passage_rows) else 0
        self._selectors: OrderedDict[bytes, tuple[faiss.IDSelector, np.ndarray] | None] = OrderedDict()
        self._selectors_lock = threading.Lock()
        self._row_passages: tuple[np.ndarray, np.ndarray] | None = None  # (passage ids by row, each row's start)

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
        exact = vectors if factory.startswith("HNSW") else None
        return cls(index, passage_rows.astype(np.int32), factory, exact)

    def save(self, directory: Path) -> dict[str, Any]:
        faiss.write_index(self.index, str(directory / "dense.faiss"))
        np.save(directory / "passage_rows.npy", self.passage_rows)
        meta = {"factory": self.factory, "dim": self.index.d, "passages": int(self.index.ntotal),
                "faiss": faiss.__version__}
        if isinstance(self.exact, np.ndarray):
            np.save(directory / RESCORE_FILE, self.exact)
            meta["rescored"] = f"float32 ({RESCORE_FILE})"
        return meta

    @classmethod
    def load(cls, directory: Path, factory: str) -> DenseBackend:
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if factory == EXACT_FACTORY else 0
        index = faiss.read_index(str(directory / "dense.faiss"), flags)
        if factory.startswith("HNSW"):
            faiss.downcast_index(index).hnsw.efSearch = EF_SEARCH
        rows = np.load(directory / "passage_rows.npy", mmap_mode="r")
        exact = NpyRows(directory / RESCORE_FILE) if (directory / RESCORE_FILE).exists() else None
        if exact is not None and exact.shape != (index.ntotal, index.d):
            raise IndexMismatch(f"{exact.path} holds {exact.shape} vectors for an index of {index.ntotal}: rebuild "
                                "the index (`regkb build`)")
        return cls(index, np.asarray(rows), factory, exact)

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
        best = self.best_passages(q, want, params)
        return sorted(((row, s) for row, (s, _) in best.items()), key=lambda x: -x[1])[:k]

    def best_passages(self, q: np.ndarray, want: int, params: faiss.SearchParameters | None = None,
                      ) -> dict[int, tuple[float, int]]:
        """Clause row -> (score, passage) of its best passage among the ``want`` nearest to the (1, dim) query."""
        ids, scores = self.passages(q, want, params)
        best: dict[int, tuple[float, int]] = {}
        for pid, s in zip(ids.tolist(), scores.tolist()):
            row = int(self.passage_rows[pid])
            if row not in best or s > best[row][0]:
                best[row] = (s, pid)
        return best

    def passages(self, q: np.ndarray, want: int, params: faiss.SearchParameters | None = None,
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The ``want`` nearest passages to the (1, dim) query ``q`` as (ids, scores), rescored exactly when the
        index is approximate and its float32 vectors were saved (the order of the scores is not restored)."""
        scores, ids = self.index.search(q, want, params=params)
        found = ids[0] >= 0
        ids, scores = ids[0][found], scores[0][found]
        if self.exact is not None and len(ids):
            scores = self.vectors(ids) @ q[0]
        return ids, scores

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of passages ``ids`` (float32; the float32 copy where an approximate index keeps one)."""
        ids = np.asarray(ids, dtype=np.int64)
        if self.exact is not None:
            return np.asarray(self.exact[ids] if isinstance(self.exact, np.ndarray) else self.exact.take(ids))
        return self.index.reconstruct_batch(ids) if len(ids) else np.zeros((0, self.index.d), np.float32)

    def row_cosines(self, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Each of ``rows``' best passage cosine to the query vector ``q`` (-1 for a row without passages): how the
        dense side scores a clause, for given rows rather than the nearest ones."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._row_passages is None:  # built once; a benign race (two threads compute the same arrays)
            order = np.argsort(self.passage_rows, kind="stable")
            starts = np.searchsorted(self.passage_rows[order], np.arange(self.n_rows + 1))
            self._row_passages = (order, starts)
        order, starts = self._row_passages
        known = rows < self.n_rows
        lo = np.where(known, starts[np.minimum(rows, self.n_rows)], 0)
        hi = np.where(known, starts[np.minimum(rows + 1, self.n_rows)], 0)
        counts = hi - lo
        out = np.full(len(rows), -1.0, dtype=np.float32)
        if counts.sum() == 0:
            return out
        owner = np.repeat(np.arange(len(rows)), counts)
        # each row's passage positions lo .. hi-1, all rows at once: a position's offset within its row, plus lo
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        ids = order[np.repeat(lo, counts) + offsets]
        scores = self.vectors(ids) @ np.asarray(q, dtype=np.float32).reshape(-1)
        np.maximum.at(out, owner, scores)
        return out

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
