"""Benchmarks: speed, scale and memory, side by side with the alternatives a user would pick.

    python -m eval.bench [--sizes real,10k,100k] [--out bench-results/bench.json] [--quick]

Prints tables and writes JSON with the machine, the versions and the corpus sizes. Not a test: nothing asserts.

Sizes: ``real`` is the bundled corpus (plus the synthetic 第1版 fixture of the Q&A that the tests also ingest);
``10k``/``100k`` (any ``<n>k``) are SYNTHETIC corpora grown from it (see eval/bench_corpus.py), with keyword indices
on their real synthetic text and dense vectors partly DERIVED (a real subset embedded, the rest perturbed from
it). Quality (dev R@1/R@5) is only meaningful on the real corpus; synthetic sizes report speed only.

What is measured, per size: index build time per component, index size on disk, in-process query latency
(p50/p95/p99, including the query embedding: every timed query is distinct, so the model's LRU cache never
answers, and the cache hits are counted to prove it), the baselines (bm25s with char bigrams, SQLite FTS5
trigram), the server (cold start to first answer, throughput with 32 concurrent loopback clients, RSS); once:
PDF and text ingest throughput, faiss exact vs HNSW on the largest synthetic size, and a pyinstrument profile of
hybrid queries on the largest size.

Modules: bench_machine (machine, versions, load), bench_queries (query pools), bench_timing (latency, quality),
bench_corpus (real and synthetic corpora), bench_vectors (real and derived vectors), bench_build (the index build,
timed), bench_size (one size end to end), bench_baselines, bench_http (the server), bench_ingest (PDF throughput),
bench_profile, bench_render (tables, targets); this file parses the flags and runs the sizes in order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_common import REPO, say
from eval.bench_corpus import RealCorpus, Synthetic, load_real_corpus, prefix, synthesize
from eval.bench_ingest import pdf_ingest
from eval.bench_machine import load_snapshot, machine, speed_probe, versions
from eval.bench_queries import QueryPool, distinct_queries
from eval.bench_render import tables, targets
from eval.bench_size import parse_size, run_size
from eval.bench_timing import on_model_thread
from eval.bench_vectors import VectorFn, VectorSource, embed_subset


NOTES = {
    "synthetic": "sizes other than 'real' are SYNTHETIC corpora grown from the real one "
                 "(eval/bench_corpus.py); speed only, no quality",
    "vectors": "synthetic sizes: a subset of passages is embedded with the real model; the "
               "other vectors are DERIVED from them (Gaussian noise, renormalised)",
    "queries": "dev and out-of-corpus questions plus perturbations, distinct per "
               "measurement so the query-embedding LRU cache never answers",
    "load": "other processes may share the 2 cores: see machine_load_* snapshots",
    "build": "every size is built by index/build.py (cross-references included); "
             "vectors come from the benchmark's encoder (real or derived)",
    "threads": "query embedding and tokenizing run on index.search's dedicated threads; "
               "the benchmark runs its own model work on the same thread",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="real,10k,100k", help="comma-separated: real, 10k, 100k, or a clause count")
    ap.add_argument("--out", type=Path, default=REPO / "bench-results" / "bench.json")
    ap.add_argument("--quick", action="store_true", help="fewer queries and requests at the largest size")
    ap.add_argument("--queries", type=int, default=300, help="timed queries per mode and size")
    ap.add_argument("--queries-quick", type=int, default=120, help="timed queries per mode at the largest size "
                                                                    "with --quick")
    ap.add_argument("--embed-subset", type=int, default=2000, help="passages really embedded for synthetic sizes")
    ap.add_argument("--faiss-queries", type=int, default=200)
    ap.add_argument("--profile-queries", type=int, default=100)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--http-requests", type=int, default=1500)
    ap.add_argument("--http-requests-quick", type=int, default=800)
    ap.add_argument("--http-seconds", type=float, default=45.0, help="time limit of each load run")
    ap.add_argument("--http-sequential", type=int, default=100, help="requests from one client, in sequence")
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--no-pdf", action="store_true")
    ap.add_argument("--laws", type=Path, help="also the statute-scale run (eval/bench_laws.py) on this e-Gov archive")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--render-only", action="store_true", help="rewrite the tables (.md) from an existing --out JSON")
    return ap.parse_args(argv)


def _write(out: dict[str, Any], path: Path) -> str:
    """Render the tables into ``out`` and write the JSON and the Markdown beside it; the tables, to print."""
    text = tables(out)
    if out.get("laws"):
        from eval.bench_laws import markdown as laws_markdown

        text += "\n\n## Statutes at scale (the e-Gov archive)\n\n" + laws_markdown(out["laws"])
    out["table_markdown"] = text
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str), "utf-8")
    path.with_suffix(".md").write_text(text + "\n", "utf-8")
    return text


def _real_vectors(embedder: Any, emb_info: dict[str, Any]) -> VectorFn:
    """The real corpus's vectors: every passage embedded by the model, the rate added up in ``emb_info``."""

    def vectors(texts: list[str], keys: list[tuple[str, int]]) -> tuple[np.ndarray, dict[str, Any]]:
        t = time.perf_counter()
        vecs = on_model_thread(lambda: embedder.encode_passages(texts, batch_size=32))
        sec = time.perf_counter() - t
        # The build asks a chunk at a time: add up.
        n = emb_info.get("passages", 0) + len(texts)
        total = emb_info.get("seconds", 0.0) + sec
        emb_info.update({"passages": n, "seconds": round(total, 2), "passages_per_s": round(n / total, 1)})
        return vecs, {"real_embedded": len(texts), "derived": 0}

    return vectors


def _derived_vectors(source: VectorSource, synth: Synthetic, dim: int) -> VectorFn:
    """A synthetic corpus's vectors: derived from the embedded subset (see eval/bench_corpus.py)."""

    def vectors(texts: list[str], keys: list[tuple[str, int]]) -> tuple[np.ndarray, dict[str, Any]]:
        return source.vectors(texts, keys, synth.template_of, dim)

    return vectors


def _embed_shared_subset(out: dict[str, Any], embedder: Any, big: Synthetic, synth_targets: list[int],
                         n: int, synth: Synthetic, subset: int) -> VectorSource:
    """Embed the real passages that every synthetic size derives its vectors from (once, on the smallest size)."""
    first = prefix(big, min(synth_targets)) if n != min(synth_targets) else synth
    say(f"embedding {subset:,} real passages of the synthetic corpus ...")
    source = on_model_thread(embed_subset, embedder, first, subset)
    out["embedding_subset"] = {"passages": len(source.embedded), "seconds": round(source.embed_seconds, 2),
                               "passages_per_s": round(len(source.embedded) / source.embed_seconds, 1),
                               "drawn_from": f"{min(synth_targets)} synthetic corpus (shared by all "
                                             "synthetic sizes)"}
    say(f"  {out['embedding_subset']['passages_per_s']} passages/s")
    return source


def _estimate_embedding(out: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """How long embedding the largest synthetic corpus for real would take, at the measured rate."""
    emb = out.get("embedding") or out.get("embedding_subset")
    if emb:
        rate = emb["passages_per_s"]
        est_passages = next((s["build"]["passages"] for s in reversed(results) if s["synthetic"]), 0)
        if est_passages and rate:
            emb = out.setdefault("embedding", dict(emb))
            emb["passages_100k"] = est_passages
            emb["est_100k_min"] = round(est_passages / rate / 60, 1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render_only:
        say(_write(json.loads(args.out.read_text("utf-8")), args.out))
        return 0

    started = time.perf_counter()
    out_dir = args.out.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / "work"
    work.mkdir(exist_ok=True)
    labels = [s.strip() for s in args.sizes.split(",") if s.strip()]
    sizes = [(lab, parse_size(lab)) for lab in labels]
    out: dict[str, Any] = {"started": dt.datetime.now().isoformat(timespec="seconds"), "argv": sys.argv[1:],
                           "machine": machine(), "versions": versions(), "machine_load_start": load_snapshot(),
                           "speed_probe_start": speed_probe(), "notes": dict(NOTES)}
    say(f"regkb benchmark: {out['machine']['cpu_model']}, {out['machine']['cores']} cores, "
        f"{out['machine']['memory_gib']} GiB; sizes {labels}; load {out['machine_load_start']}")

    from index.embedding import load_embedder

    t0 = time.perf_counter()
    embedder = on_model_thread(load_embedder)
    out["model_load_s"] = round(time.perf_counter() - t0, 2)

    real: RealCorpus = load_real_corpus(work)
    out["ingest"] = {"text": real.stats}
    if not args.no_pdf:
        out["ingest"]["pdf"] = pdf_ingest(work)
        say(f"ingest: text {real.stats['clauses_per_s']} clauses/s; PDF {out['ingest']['pdf']['ingest_pages_per_s']} "
            f"pages/s ({out['ingest']['pdf']['pages']} pages)")

    pool = QueryPool(distinct_queries(30_000))
    synth_targets = [n for _, n in sizes if n is not None]
    big: Synthetic | None = None
    source: VectorSource | None = None
    if synth_targets:
        t0 = time.perf_counter()
        big = synthesize(real.corpus, max(synth_targets), seed=args.seed)
        out["synthesis_s"] = round(time.perf_counter() - t0, 2)
        say(f"synthesised {big.rows:,} rows ({big.documents:,} documents, {big.editions:,} editions) in "
            f"{out['synthesis_s']} s")

    results = []
    largest_label = labels[-1]
    for label, n in sizes:
        data_dir = work / label
        if n is None:
            emb_info: dict[str, Any] = {}
            corpus_info = {"kind": "real", "documents": len(real.corpus.doc_ids), "editions": len(real.corpus),
                           "includes_edition1_fixture": real.stats["includes_edition1_fixture"]}
            res = run_size(label, data_dir, real.corpus, _real_vectors(embedder, emb_info), embedder, pool, args,
                           out_dir, synthetic=False, largest=label == largest_label, corpus_info=corpus_info)
            out["embedding"] = emb_info
        else:
            assert big is not None
            synth = big if n == max(synth_targets) else prefix(big, n)
            if source is None:
                source = _embed_shared_subset(out, embedder, big, synth_targets, n, synth, args.embed_subset)
            corpus_info = {"kind": "SYNTHETIC", "target_rows": n, "rows": synth.rows, "documents": synth.documents,
                           "editions": synth.editions, "grown_from": "real corpus (latest editions as templates)",
                           "seed": args.seed}
            res = run_size(label, data_dir, synth.corpus, _derived_vectors(source, synth, embedder.dim), embedder,
                           pool, args, out_dir, synthetic=True, largest=label == largest_label,
                           corpus_info=corpus_info)
            del synth
        results.append(res)
        gc.collect()

    out["sizes"] = results
    _estimate_embedding(out, results)
    if args.laws:  # the real ≈300k-article corpus: ingest, keyword build, serving, dense rate (eval/bench_laws.py)
        from eval.bench_laws import run as run_laws

        out["laws"] = run_laws(args.laws, work / "laws-data")
    out["machine_load_end"] = load_snapshot()
    out["speed_probe_end"] = speed_probe()
    out["targets"] = targets(out)
    out["total_s"] = round(time.perf_counter() - started, 1)
    text = _write(out, args.out)
    say("\n" + text)
    say(f"\nwrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
