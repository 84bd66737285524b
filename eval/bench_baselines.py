"""The alternatives a user would pick instead of regkb's hybrid, measured on the same rows and the same queries.

- bm25s alone with a char-bigram tokenizer (no fugashi/MeCab): the keyword units of the build, folded (NFKC,
  lower case), split into runs of word characters (``\\w+``), each run cut into overlapping character bigrams
  (a run of one character is kept whole). Same BM25 variant and parameters as regkb (Lucene, k1 1.2, b 0.75).
- SQLite FTS5 with the trigram tokenizer (standard library sqlite3): the same folded keyword units. A question is
  sent as the OR of its distinct trigrams (each quoted), ranked by FTS5's bm25(). The question as one phrase would
  only match text containing the whole question verbatim, which natural questions never do, so OR-of-trigrams is
  the usable choice. A query of fewer than 3 characters has no trigram and returns nothing (FTS5's trigram
  tokenizer cannot match shorter strings through MATCH; a LIKE scan would be needed).
- faiss exact (Flat) against approximate (index.dense.APPROX_FACTORY, built as regkb builds it) on the same vectors,
  with recall@10 of approximate against exact, latency per single query and build time, for several efSearch.

All baselines search only the rows regkb searches by default (each document's latest edition).
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from corpus.textnorm import fold
from index.dense import APPROX_FACTORY, EF_CONSTRUCTION, DenseBackend
from index.keyword import KeywordBackend

_WORD = re.compile(r"\w+")


def bigrams(text: str) -> list[str]:
    out: list[str] = []
    for run in _WORD.findall(fold(text)):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


def trigram_query(text: str) -> str | None:
    grams: dict[str, None] = {}
    for run in _WORD.findall(fold(text)):
        for i in range(len(run) - 2):
            grams.setdefault(run[i:i + 3], None)
    if not grams:
        return None
    return " OR ".join('"' + g.replace('"', '""') + '"' for g in grams)


class BigramBM25:
    name = "bm25s + char bigrams (no fugashi)"

    def __init__(self, unit_texts: list[str]) -> None:
        t0 = time.perf_counter()
        tokens = [bigrams(t) for t in unit_texts]
        self.tokenize_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.backend = KeywordBackend.build(tokens)
        self.index_s = time.perf_counter() - t0
        self.vocab = len(self.backend.vocab)

    def save_size(self, directory: Path) -> int:
        directory.mkdir(parents=True, exist_ok=True)
        self.backend.save(directory)
        return sum(f.stat().st_size for f in (directory / "bm25").rglob("*") if f.is_file())

    def search(self, query: str, allowed: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self.backend.rank(bigrams(query), allowed, k)


class Fts5Trigram:
    name = "SQLite FTS5 trigram (OR of query trigrams, bm25())"

    def __init__(self, unit_texts: list[str], allowed: np.ndarray, path: Path) -> None:
        if path.exists():
            path.unlink()
        self.path = path
        self.db = sqlite3.connect(str(path), check_same_thread=False)
        t0 = time.perf_counter()
        self.db.execute("CREATE VIRTUAL TABLE fts USING fts5(body, latest UNINDEXED, tokenize='trigram')")
        self.db.executemany("INSERT INTO fts(rowid, body, latest) VALUES (?, ?, ?)",
                            ((i, fold(t), int(a)) for i, (t, a) in enumerate(zip(unit_texts, allowed))))
        self.db.commit()
        self.index_s = time.perf_counter() - t0
        self.sqlite_version = sqlite3.sqlite_version

    def size(self) -> int:
        return self.path.stat().st_size

    def search(self, query: str, allowed: np.ndarray, k: int) -> list[tuple[int, float]]:
        match = trigram_query(query)
        if match is None:
            return []
        rows = self.db.execute("SELECT rowid, bm25(fts) AS r FROM fts WHERE fts MATCH ? AND latest = 1 "
                               "ORDER BY r LIMIT ?", (match, k)).fetchall()
        return [(int(r), -float(s)) for r, s in rows]

    def close(self) -> None:
        self.db.close()


# Two scores this close are a tie at the precision the dense index keeps (float16 vectors: a cosine is off by ~1e-4)
TIE = 1e-4


def faiss_exact_vs_hnsw(vectors: np.ndarray, queries: np.ndarray, hnsw_index: faiss.Index | None = None,
                        ef_values: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024), k: int = 10,
                        hnsw_build_s: float | None = None, passage_rows: np.ndarray | None = None,
                        want: int = 200) -> dict[str, Any]:
    """Exact inner-product search against HNSW on the same vectors: build time, memory, per-query latency, the
    recall@10 of HNSW against exact (per passage, unfiltered) and how much worse the approximate neighbours are
    (mean cosine of the top 10, exact minus approximate). With ``passage_rows``, also what regkb's dense side does
    with them: ``want`` passages (regkb asks for 200, so faiss searches with max(efSearch, 200)), best passage per
    clause, and the recall of the top 10 and top 50 clauses against the same procedure on the exact index."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    flat_build = time.perf_counter() - t0
    if hnsw_index is None:
        t0 = time.perf_counter()
        hnsw_index = DenseBackend.build(vectors, np.zeros(len(vectors), np.int32), APPROX_FACTORY).index
        hnsw_build_s = time.perf_counter() - t0
    hnsw = faiss.downcast_index(hnsw_index)

    def run(index: faiss.Index) -> tuple[np.ndarray, list[float]]:
        ids = np.empty((len(queries), k), dtype=np.int64)
        lat = []
        for i, q in enumerate(queries):
            t = time.perf_counter()
            _, ids[i] = index.search(q.reshape(1, -1), k)
            lat.append((time.perf_counter() - t) * 1000)
        return ids, lat

    exact_ids, exact_lat = run(flat)
    exact_scores = np.array([flat.search(q.reshape(1, -1), k)[0][0] for q in queries])

    def clauses(index: faiss.Index, rescore: bool = False) -> list[list[tuple[int, int]]]:
        """Per query, the top 50 clauses as (row, the passage that ranked it), as the dense side ranks them
        (``rescore``: the candidates scored with the float32 vectors, as DenseBackend does an HNSW index's)."""
        assert passage_rows is not None
        dense = DenseBackend(index, passage_rows, "", vectors if rescore else None)
        out = []
        for q in queries:
            best = dense.best_passages(q.reshape(1, -1), want)
            out.append([(r, p) for r, (_, p) in sorted(best.items(), key=lambda x: -x[1][0])[:50]])
        return out

    exact_clauses = clauses(flat) if passage_rows is not None else None
    out: dict[str, Any] = {
        "passages": int(vectors.shape[0]), "dim": int(vectors.shape[1]), "queries": int(len(queries)), "k": k,
        "exact": {"factory": "Flat", "build_s": round(flat_build, 3), **_lat(exact_lat),
                  "bytes": int(vectors.nbytes)},
        "hnsw": {"factory": APPROX_FACTORY, "efConstruction": EF_CONSTRUCTION,
                 "build_s": round(hnsw_build_s, 3) if hnsw_build_s is not None else None,
                 "bytes": _index_bytes(hnsw_index), "by_efSearch": []},
    }
    if exact_clauses is not None:  # the other choice: exact search over float16 vectors
        fp16 = faiss.index_factory(vectors.shape[1], "SQfp16", faiss.METRIC_INNER_PRODUCT)
        fp16.train(vectors[:1])
        fp16.add(vectors)
        out["exact_fp16"] = {"factory": "SQfp16", **clause_recall(queries, vectors, clauses(fp16), exact_clauses)}
        del fp16
    old_ef = hnsw.hnsw.efSearch
    for ef in ef_values:
        hnsw.hnsw.efSearch = ef
        ids, lat = run(hnsw)
        recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, exact_ids)]))
        approx_scores = np.array([hnsw.search(q.reshape(1, -1), k)[0][0] for q in queries])
        row: dict[str, Any] = {"efSearch": ef, "recall@10": round(recall, 4), **_lat(lat),
                               "top10_mean_cosine_gap": round(float((exact_scores.mean(1) - approx_scores.mean(1)).mean()),
                                                              5)}
        if exact_clauses is not None:
            row.update(clause_recall(queries, vectors, clauses(hnsw), exact_clauses))
            row["rescored"] = clause_recall(queries, vectors, clauses(hnsw, rescore=True), exact_clauses)
        out["hnsw"]["by_efSearch"].append(row)
    hnsw.hnsw.efSearch = old_ef
    return out


def clause_recall(queries: np.ndarray, vectors: np.ndarray, got: list[list[tuple[int, int]]],
                  exact: list[list[tuple[int, int]]], tie: float = TIE) -> dict[str, float]:
    """Recall of the top 10 and 50 clauses (row, passage that ranked it) against exact search's, and of the top 10
    with ties counted: a returned clause whose passage scores (exactly) within ``tie`` of the exact tenth clause is
    as near as the tenth (ann-benchmarks counts a result within 1e-3 of the k-th distance; TIE is the float16
    storage's own error on a score)."""
    r10, r50, tied = [], [], []
    for q, a, b in zip(queries, got, exact):
        a_rows, b_rows = [r for r, _ in a], [r for r, _ in b]
        r10.append(len(set(a_rows[:10]) & set(b_rows[:10])) / max(1, len(b_rows[:10])))
        r50.append(len(set(a_rows) & set(b_rows)) / max(1, len(b_rows)))
        if b:
            tenth = float(vectors[b[:10][-1][1]] @ q)
            near = sum(float(vectors[p] @ q) >= tenth - tie for _, p in a[:10])
            tied.append(min(near, len(b[:10])) / len(b[:10]))
    return {"clause_recall@10": round(float(np.mean(r10)), 4), "clause_recall@50": round(float(np.mean(r50)), 4),
            "clause_recall@10_ties": round(float(np.mean(tied)), 4) if tied else 0.0}


def _index_bytes(index: faiss.Index) -> int:
    return int(faiss.serialize_index(index).nbytes)


def _lat(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "p99_ms": round(float(np.percentile(a, 99)), 3), "mean_ms": round(float(a.mean()), 3)}
