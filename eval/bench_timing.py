"""Timed measurements in process: search latency per mode, the query embedding alone, the baselines, and dev quality."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from eval.bench_common import DEV, K


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms) if ms else np.zeros(1)
    return {"n": len(ms), "p50_ms": round(float(np.percentile(a, 50)), 2),
            "p95_ms": round(float(np.percentile(a, 95)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2),
            "mean_ms": round(float(a.mean()), 2), "max_ms": round(float(a.max()), 2)}


def time_search(searcher: Any, queries: list[str], mode: str, filters: Any = None) -> dict[str, Any]:
    emb = searcher.embedder
    hits0 = emb.query_cache_info().hits
    lat = []
    for q in queries:
        t = time.perf_counter()
        searcher.search(q, k=K, mode=mode, filters=filters)
        lat.append((time.perf_counter() - t) * 1000)
    return {**percentiles(lat), "embedding_cache_hits": emb.query_cache_info().hits - hits0}


def on_model_thread(fn: Any, *args: Any) -> Any:
    """Run torch work on the thread the searcher embeds queries on: each thread that runs the model gets its own
    OpenMP team, whose idle spinning slows the others by ~5 ms a query, and the server only ever has that one."""
    from index.search import _worker

    return _worker("embed").submit(fn, *args).result()


def time_embedding(searcher: Any, queries: list[str]) -> dict[str, Any]:
    lat = []
    for q in queries:
        t = time.perf_counter()
        searcher.encode_query(q)
        lat.append((time.perf_counter() - t) * 1000)
    return percentiles(lat)


def quality(searcher: Any, mode: str) -> dict[str, float]:
    from eval.harness import report, run_questions
    from eval.question_set import load_questions

    qs = load_questions(DEV)
    run, confident = run_questions(searcher, qs, mode, K)
    r = report(qs, run, confident, mode, {})
    return {"R@1": round(r.metrics["recall@1"], 3), "R@5": round(r.metrics["recall@5"], 3),
            "questions": r.in_corpus}


def baseline_quality(search: Any, searcher: Any) -> dict[str, float]:
    from eval.metrics import evaluate
    from eval.question_set import load_questions

    qs = load_questions(DEV)
    allowed = searcher._default_mask
    runs = {}
    for q in qs:
        hits = search(q.question, allowed, K)
        runs[q.id] = [{"doc": searcher.rows[r].doc_id, "section": searcher.rows[r].section, "score": s}
                      for r, s in hits]
    m = evaluate(qs, runs)
    return {"R@1": round(m["recall@1"], 3), "R@5": round(m["recall@5"], 3),
            "questions": sum(1 for q in qs if not q.out_of_corpus)}


def time_baseline(search: Any, queries: list[str], allowed: np.ndarray) -> dict[str, Any]:
    lat = []
    empty = 0
    for q in queries:
        t = time.perf_counter()
        hits = search(q, allowed, K)
        lat.append((time.perf_counter() - t) * 1000)
        empty += not hits
    return {**percentiles(lat), "queries_without_hits": empty}


def unit_texts_of(searcher: Any) -> list[str]:
    """The keyword units of the build's rows, rebuilt from the corpus exactly as the build made them."""
    from index.build import BuildConfig
    from index.units import clause_texts

    by_key: dict[str, str] = {}
    for parsed in searcher.corpus:
        for clause, text, _ in clause_texts(parsed, BuildConfig().chunking):
            by_key[clause.key] = text
    return [by_key[c.key] for c in searcher.rows]

