"""One corpus size end to end: build, load, latency per mode, quality, baselines, faiss exact vs HNSW, profile, server."""

from __future__ import annotations

import argparse
import gc
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_build import build
from eval.bench_common import K, say
from eval.bench_machine import load_snapshot
from eval.bench_profile import profile_hybrid
from eval.bench_queries import QueryPool
from eval.bench_timing import (
    baseline_quality,
    on_model_thread,
    quality,
    time_baseline,
    time_embedding,
    time_search,
    unit_texts_of,
)


def parse_size(s: str) -> int | None:
    s = s.strip().lower()
    if s == "real":
        return None
    m = re.fullmatch(r"(\d+)(k?)", s)
    if not m:
        raise SystemExit(f"bad size {s!r}: use real, 10k, 100k or a number of clauses")
    return int(m.group(1)) * (1000 if m.group(2) else 1)


def run_size(label: str, data_dir: Path, corpus: Any, vector_fn: Any, embedder: Any, pool: QueryPool,
             args: argparse.Namespace, out_dir: Path, *, synthetic: bool, largest: bool,
             corpus_info: dict[str, Any]) -> dict[str, Any]:
    from index.search import SearchFilters, Searcher

    res: dict[str, Any] = {"size": label, "synthetic": synthetic, "corpus": corpus_info,
                           "machine_load_before": load_snapshot()}
    say(f"\n== {label}: {'SYNTHETIC' if synthetic else 'real'} corpus ==")
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    build_dir, report = build(data_dir, corpus, vector_fn, embedder, log=say)
    res["build"] = report
    say(f"  built {report['rows']:,} rows / {report['passages']:,} passages ({report['factory']}): "
        + ", ".join(f"{k} {v}" for k, v in report["timings_s"].items())
        + f"; {report['disk']['total'] / 1e6:.1f} MB on disk")
    del corpus
    gc.collect()

    t0 = time.perf_counter()
    searcher = Searcher.load(data_dir, check_corpus=False)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    searcher.warm_up()
    res["in_process_load_s"] = {"Searcher.load": round(load_s, 2), "warm_up": round(time.perf_counter() - t0, 2)}
    for q in pool.take(5):  # first-query effects (numba, page faults) are not latency
        searcher.search(q, k=K, mode="hybrid")
    n = args.queries_quick if (args.quick and largest) else args.queries
    lat: dict[str, Any] = {}
    lat["embed_query_only"] = time_embedding(searcher, pool.take(n))
    for mode in ("hybrid", "bm25", "dense"):
        lat[mode] = time_search(searcher, pool.take(n), mode)
        say(f"  {mode:>7}: p50 {lat[mode]['p50_ms']} ms, p95 {lat[mode]['p95_ms']} ms, p99 {lat[mode]['p99_ms']} ms"
            f" (n={n}, embedding cache hits {lat[mode]['embedding_cache_hits']})")
    lat["hybrid_filtered_kind_qa"] = time_search(searcher, pool.take(max(20, n // 3)), "hybrid",
                                                 SearchFilters(kind="qa"))
    say(f"  hybrid kind=qa: p50 {lat['hybrid_filtered_kind_qa']['p50_ms']} ms, "
        f"p95 {lat['hybrid_filtered_kind_qa']['p95_ms']} ms")
    say(f"  query embedding alone: p50 {lat['embed_query_only']['p50_ms']} ms, "
        f"p95 {lat['embed_query_only']['p95_ms']} ms")
    res["latency"] = lat
    if not synthetic:
        res["quality"] = {m: quality(searcher, m) for m in ("hybrid", "bm25", "dense")}
        say("  quality: " + ", ".join(f"{m} R@1 {q['R@1']:.3f} R@5 {q['R@5']:.3f}" for m, q in res["quality"].items()))
    else:
        res["quality"] = "not measured: synthetic corpus (answers are not meaningful); speed only"

    # -- baselines on the same rows and queries
    from eval.bench_baselines import BigramBM25, Fts5Trigram

    units = unit_texts_of(searcher)
    allowed = searcher._default_mask
    base: dict[str, Any] = {}
    bg = BigramBM25(units)
    bg_size = bg.save_size(data_dir / "baseline-bigram")
    base["bm25s_bigram"] = {"name": bg.name, "tokenize_s": round(bg.tokenize_s, 3), "index_s": round(bg.index_s, 3),
                            "vocab": bg.vocab, "disk_bytes": bg_size,
                            "latency": time_baseline(bg.search, pool.take(n), allowed)}
    if not synthetic:
        base["bm25s_bigram"]["quality"] = baseline_quality(bg.search, searcher)
    del bg
    gc.collect()
    fts = Fts5Trigram(units, allowed, data_dir / "baseline-fts5.sqlite")
    base["fts5_trigram"] = {"name": fts.name, "index_s": round(fts.index_s, 3), "disk_bytes": fts.size(),
                            "sqlite": fts.sqlite_version,
                            "latency": time_baseline(fts.search, pool.take(max(20, n // 2)), allowed)}
    if not synthetic:
        base["fts5_trigram"]["quality"] = baseline_quality(fts.search, searcher)
    fts.close()
    for key, b in base.items():
        say(f"  baseline {key}: p50 {b['latency']['p50_ms']} ms, p95 {b['latency']['p95_ms']} ms"
            + (f", R@1 {b['quality']['R@1']:.3f} R@5 {b['quality']['R@5']:.3f}" if "quality" in b else ""))
    res["baselines"] = base

    if synthetic and largest:
        from eval.bench_baselines import faiss_exact_vs_hnsw

        index = searcher.dense.index
        vectors = index.reconstruct_n(0, index.ntotal)
        qv = on_model_thread(searcher.embedder.encode_queries, pool.take(args.faiss_queries))
        hnsw_build = report["timings_s"]["faiss_s"] if report["factory"].startswith("HNSW") else None
        res["faiss_exact_vs_hnsw"] = faiss_exact_vs_hnsw(
            vectors, qv, hnsw_index=index if report["factory"].startswith("HNSW") else None, hnsw_build_s=hnsw_build,
            passage_rows=np.asarray(searcher.dense.passage_rows), want=200)  # DenseBackend.rank asks for max(4 * 50 candidates, 50)
        f = res["faiss_exact_vs_hnsw"]
        say(f"  faiss exact p50 {f['exact']['p50_ms']} ms; HNSW " + ", ".join(
            f"ef{r['efSearch']} R@10 {r['recall@10']:.3f} p50 {r['p50_ms']} ms" for r in f["hnsw"]["by_efSearch"]))
        del vectors
    if largest and not args.no_profile:
        res["profile"] = profile_hybrid(searcher, pool.take(args.profile_queries), out_dir, label)
        say(f"  profile: {res['profile']['ms_per_query']} ms/query under pyinstrument; "
            f"{res['profile']['files'][0]}")
    del searcher
    gc.collect()

    if not args.no_http:
        from eval.bench_http import measure_server

        res["machine_load_before_server"] = load_snapshot()
        requests = args.http_requests_quick if (args.quick and largest) else args.http_requests
        spy = out_dir / f"py-spy-server-{label}.txt" if (largest and not args.no_profile) else None
        res["server"] = measure_server(data_dir, pool.take(1)[0], pool.take(requests), pool.take(args.http_sequential),
                                       out_dir / f"server-{label}.log", clients=args.clients,
                                       max_seconds=args.http_seconds, py_spy=spy)
        s = res["server"]
        say(f"  server: cold start {s['cold_start_s']} s, RSS {s['rss_after_load_bytes'] / 2**20:.0f} MiB "
            f"(peak {s['peak_rss_bytes'] / 2**20:.0f} MiB, PSS {s['memory_after_load'].get('pss', 0) / 2**20:.0f} "
            f"MiB), 1 client p50 {s['sequential']['latency_p50_ms']} ms; {s['load']['qps']} q/s with "
            f"{s['load']['clients']} clients ({s['load']['completed']} requests, {s['load']['errors']} errors, "
            f"p95 {s['load']['latency_p95_ms']} ms, {s['load']['server_cpu_ms_per_request']} ms server CPU/request)")
    res["machine_load_after"] = load_snapshot()
    return res

