"""Keyword side: BM25 (bm25s, Lucene variant) over fugashi tokens, saved as .npy + JSON and memory-mapped on load.

bm25s builds and saves the index. A search reads the saved arrays itself (``SavedScores``: the same arithmetic as
bm25s' ``get_scores_from_ids``), so the serving process does not import bm25s, which imports numba and LLVM when
they are installed (ranx brings them): ~0.3 s of start-up and ~50 MiB of RSS for nothing a search uses. An index of
NOGIL_ROWS rows or more does its sums in a numba kernel that releases the GIL (``_nogil_kernel``).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import IndexMismatch
from index.backend import Backend
from index.fastjson import loads

log = logging.getLogger(__name__)

NOGIL_ROWS = 20_000  # from this many rows, BM25 sums run in a compiled kernel without the GIL (_nogil_kernel)
# A token in more than this share of the rows is also saved as a dense column (a score per row, 0 where absent):
# adding a column is a vector add, its posting list a scatter. The statute archive's kana-bigram field: a query's
# ~1.5M postings, 92 % of them in such tokens (235 of the field's tokens); the field's sums 4.3 → 1.0–1.5 ms, the same
# float32 sums in the same order (x + 0.0 == x). The columns' 130 MB replace the 104 MB of postings a query touched.
HEAVY_SHARE = 0.2
HEAVY_COLUMNS, HEAVY_TOKENS = "heavy.columns.npy", "heavy.tokens.npy"
K1, B = 1.2, 0.75  # the usual defaults (Robertson & Zaragoza 2009); measured no better alternative on dev


# Methods whose saved scores are the whole score (BM25L and BM25+ add a per-token non-occurrence term).
_PLAIN_METHODS = frozenset({"lucene", "robertson", "atire"})


class SavedScores:
    """A saved bm25s index, read-only: the eager score matrix (CSC: one column per token) and the vocabulary."""

    def __init__(self, directory: Path, mmap: bool = True) -> None:
        params = loads((directory / "params.index.json").read_bytes())
        self.method = params["method"]
        self.dtype = np.dtype(params.get("dtype", "float32"))
        self.int_dtype = np.dtype(params.get("int_dtype", "int32"))
        self.vocab_dict: dict[str, int] = loads((directory / "vocab.index.json").read_bytes())
        mode = "r" if mmap else None

        def load(name: str) -> np.ndarray:
            # A plain ndarray view of the mapping: slices of an np.memmap are memmaps too, each paying the
            # subclass's bookkeeping (~10 µs), and a query slices a posting list per token per field.
            return np.load(directory / name, mmap_mode=mode, allow_pickle=False).view(np.ndarray)

        self.scores: dict[str, Any] = {
            "data": load("data.csc.index.npy"), "indices": load("indices.csc.index.npy"),
            "indptr": load("indptr.csc.index.npy"), "num_docs": params["num_docs"]}
        # token id -> its row in ``columns`` (-1: none); an index saved before the columns has none
        self.column_of = np.full(len(self.scores["indptr"]), -1, dtype=np.int32)
        self.columns = np.zeros((0, int(params["num_docs"])), dtype=self.dtype)
        if (directory / HEAVY_TOKENS).exists():
            heavy = load(HEAVY_TOKENS)
            self.columns = load(HEAVY_COLUMNS)
            if self.columns.shape != (len(heavy), int(params["num_docs"])) or self.columns.dtype != self.dtype:
                raise IndexMismatch(f"{directory / HEAVY_COLUMNS} does not match its index: rebuild it (`regkb build`)")
            self.column_of[heavy] = np.arange(len(heavy), dtype=np.int32)
        # Large indexes only: numba costs ~0.3 s and ~50 MiB to import and a moment to compile, which a small index
        # (postings of a few hundred rows, sums of ~0.1 ms) would never win back.
        self._kernel = _nogil_kernel() if int(params["num_docs"]) >= NOGIL_ROWS else None
        if self._kernel is not None:  # compiled now, for these arrays' types, rather than by the first query
            ptr = self.scores["indptr"][:1]
            self._kernel(np.zeros(1, self.dtype), self.scores["data"][:0], self.scores["indices"][:0], ptr, ptr,
                         np.full(1, -1, dtype=np.int32), self.columns)

    def get_scores_from_ids(self, query_tokens_ids: list[int]) -> np.ndarray:
        """bm25s.BM25.get_scores_from_ids, step for step (the same float32 sums in the same order)."""
        data, indices, indptr = self.scores["data"], self.scores["indices"], self.scores["indptr"]
        ids = np.asarray(query_tokens_ids, dtype=self.int_dtype)
        if int(ids.max(initial=0)) >= len(indptr) - 1:
            raise ValueError("a query token id is beyond the index's vocabulary")
        starts, ends, columns = indptr[ids], indptr[ids + 1], self.column_of[ids]
        scores = np.zeros(self.scores["num_docs"], dtype=self.dtype)
        if self._kernel is not None:
            self._kernel(scores, data, indices, starts, ends, columns, self.columns)
            return scores
        for i in range(len(ids)):
            if columns[i] >= 0:
                scores += self.columns[columns[i]]
                continue
            start, end = starts[i], ends[i]
            np.add.at(scores, indices[start:end], data[start:end])
        return scores


def write_heavy_columns(directory: Path, share: float = HEAVY_SHARE) -> int:
    """Save the tokens of the bm25s index in ``directory`` found in more than ``share`` of its rows as dense
    columns (HEAVY_COLUMNS, HEAVY_TOKENS) beside it; returns how many."""
    saved = SavedScores(directory)
    indptr, n = saved.scores["indptr"], int(saved.scores["num_docs"])
    heavy = np.flatnonzero(np.diff(indptr) > share * n).astype(np.int32)
    columns = np.zeros((len(heavy), n), dtype=saved.dtype)
    for c, t in enumerate(heavy):
        start, end = int(indptr[t]), int(indptr[t + 1])
        columns[c, saved.scores["indices"][start:end]] = saved.scores["data"][start:end]
    np.save(directory / HEAVY_COLUMNS, columns)
    np.save(directory / HEAVY_TOKENS, heavy)
    return len(heavy)


@functools.cache  # one compiled function for every field and index of the process
def _nogil_kernel() -> Any:
    """The sums of ``get_scores_from_ids`` compiled by numba (it comes with ranx) to run without the GIL: np.add.at
    holds it, ~3 ms a query over the statute archive's 144,492 rows (a query's kana bigrams add ~1.9M postings), so
    concurrent requests queued behind each other's BM25 sums. The same float32 additions in the same order.
    None when numba cannot be imported: np.add.at then does the sums, with the GIL."""
    try:
        import numba
    except ImportError as exc:  # pragma: no cover - numba comes with ranx
        log.warning("numba not available (%s): BM25 sums hold the GIL", exc)
        return None

    # Unchecked and vectorised: a column is as long as ``scores`` (SavedScores checks the columns' shape on load).
    @numba.njit(nogil=True, cache=True, boundscheck=False)
    def add_column(scores, col):  # type: ignore[no-untyped-def]
        for r in range(len(scores)):
            scores[r] += col[r]

    # boundscheck: a damaged index raises IndexError, as np.add.at does, instead of writing outside ``scores``
    @numba.njit(nogil=True, cache=True, boundscheck=True)
    def accumulate(scores, data, indices, starts, ends, columns, dense):  # type: ignore[no-untyped-def]
        for i in range(len(starts)):
            if columns[i] >= 0:  # a frequent token's dense column (HEAVY_SHARE)
                add_column(scores, dense[columns[i]])
                continue
            for j in range(starts[i], ends[i]):
                scores[indices[j]] += data[j]

    return accumulate


def _is_sorted(post: np.ndarray) -> bool:
    return len(post) < 2 or bool(np.all(post[1:] > post[:-1]))


def _member(rows: np.ndarray, post: np.ndarray, sorted_post: bool | None = None) -> np.ndarray:
    """np.isin(rows, post): by binary search when the posting list is sorted (bm25s writes them sorted), ~5x faster
    than isin's sort for the ~100 candidate rows of a query. ``sorted_post``: known already (None: checked here)."""
    if not (_is_sorted(post) if sorted_post is None else sorted_post):
        return np.isin(rows, post)
    at = np.searchsorted(post, rows)
    at[at == len(post)] = 0
    return post[at] == rows


class KeywordBackend(Backend):
    name = "bm25"

    def __init__(self, retriever: Any) -> None:
        self.retriever = retriever  # SavedScores when loaded for search, bm25s.BM25 when just built
        self.vocab: dict[str, int] = retriever.vocab_dict
        self._sorted: dict[str, bool] = {}  # token -> its posting list is sorted (checked once, not per query)

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> KeywordBackend:
        import bm25s

        retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
        # bm25s cannot index an empty document list or an empty document; "∅" keeps row numbers aligned.
        retriever.index([toks or ["∅"] for toks in token_lists] or [["∅"]], show_progress=False)
        return cls(retriever)

    def save(self, directory: Path, field: str = "bm25") -> dict[str, Any]:
        """``field``: the subdirectory — "bm25" (words), "bm25_heading" (headings), "bm25_reading" (kana bigrams)."""
        self.retriever.save(str(directory / field), allow_pickle=False, show_progress=False)
        heavy = write_heavy_columns(directory / field)
        return {"method": "lucene", "k1": K1, "b": B, "vocab_size": len(self.vocab), "dense_columns": heavy}

    @classmethod
    def load(cls, directory: Path, mmap: bool = True, field: str = "bm25") -> KeywordBackend:
        saved = SavedScores(directory / field, mmap=mmap)
        if saved.method in _PLAIN_METHODS:
            return cls(saved)
        import bm25s  # an index of another BM25 variant: bm25s adds its non-occurrence term

        return cls(bm25s.BM25.load(str(directory / field), mmap=mmap, allow_pickle=False, show_progress=False))

    def _span(self, token: str) -> tuple[int | None, int, int]:
        """(token id, start, end) of ``token``'s posting list in the index's arrays; (None, 0, 0) when it is not in
        the vocabulary."""
        tid = self.vocab.get(token)
        indptr = self.retriever.scores["indptr"]
        if tid is None or tid + 1 >= len(indptr):
            return None, 0, 0
        return tid, int(indptr[tid]), int(indptr[tid + 1])

    def postings(self, token: str) -> np.ndarray:
        """The rows that contain ``token`` (empty when it is not in the vocabulary)."""
        tid, start, end = self._span(token)
        if tid is None:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self.retriever.scores["indices"][start:end])

    def coverage(self, tokens: list[str], rows: np.ndarray) -> tuple[float, np.ndarray]:
        """(share of the query's IDF mass found anywhere in the index, share found in each of ``rows``).

        Lucene's BM25 idf weighs each distinct token; a token in no row weighs the most. A question the corpus
        answers has its key words together in one clause; an out-of-corpus question built from common words (補助金,
        申請 …) finds them scattered over many. Row membership is tested in numpy: a Python set of a common word's
        posting list cost ~3 ms per word at 100k rows."""
        per_row = np.zeros(len(rows))
        uniq = list(dict.fromkeys(tokens))
        if not uniq:
            return 0.0, per_row
        n = float(self.retriever.scores["num_docs"])
        column_of = getattr(self.retriever, "column_of", None)  # SavedScores only
        total = found = 0.0
        for t in uniq:
            tid, start, end = self._span(t)
            df = float(end - start)
            idf = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
            total += idf
            if not df:
                continue
            found += idf
            if column_of is not None and column_of[tid] >= 0:  # a frequent token: its column scores > 0 where found
                per_row += idf * (self.retriever.columns[column_of[tid]][rows] > 0)
                continue
            post = np.asarray(self.retriever.scores["indices"][start:end])
            known = self._sorted.get(t)
            if known is None:
                known = self._sorted[t] = _is_sorted(post)
            per_row += idf * _member(rows, post, known)
        return found / total, per_row / total

    def scores(self, tokens: list[str]) -> np.ndarray:
        ids = [self.vocab[t] for t in tokens if t in self.vocab]
        n = int(self.retriever.scores["num_docs"])
        if not ids:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(ids), dtype=np.float32)

    def rank(self, query: Any, allowed: np.ndarray | None, k: int) -> list[tuple[int, float]]:
        s = self.scores(query)
        if allowed is not None and not allowed.all():  # all() is ~3 µs; np.where ~70 µs at 144k rows
            s = np.where(allowed, s, 0.0)
        k = min(k, len(s))
        if k <= 0:
            return []
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.argsort(-s[top], kind="stable")]
        return [(int(i), float(s[i])) for i in top if s[i] > 0]
