"""Scale, for real: the e-Gov archive (4,155 laws, ≈300k articles) through ingest, build and search.

    python -m eval.bench_laws ../shared/corpora/egov-laws-html.tar.xz [--data-dir bench-results/laws] [--embed-sample 256]

Measures, and says what was not done:
- ingest: files/s streaming the archive, articles and clauses, store size, store load time and RSS; a second ingest
  of the same archive (every law unchanged: a no-op);
- keyword build at full scale (index/build.py, dense off): cross-references, tokenize, BM25 and field timings, index
  size, peak RSS;
- dense: the passages a full build would embed, the real model's rate on a sample (and with two shard workers,
  ``regkb build --shard i/2``), the projected time for all; faiss build and search at the full passage count on
  vectors DERIVED from the sampled ones (real vectors for all would take hours on 2 cores — see the output);
- serving: cold start (Searcher.load), RSS, BM25 latency p50/p95 and q/s on the statute questions, and R@1/R@5 of
  those questions at full scale.

Clause granularity: an article (条) is one indexed row; 項 and 号 are child clauses (citable, not indexed); 別表 rows
are rows; the 附則 of amending acts are stored but not indexed (index/units.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def say(msg: str) -> None:
    print(msg, flush=True)


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _du_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20 if path.exists() else 0.0


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ")[0]
    except OSError:
        return "?"


def bench_ingest(archive: Path, data_dir: Path) -> dict[str, Any]:
    from corpus.store import Store
    from ingest.law_ingest import ingest_law_archive

    store = Store(data_dir)
    cpu0 = time.process_time()
    first = ingest_law_archive(archive, store)
    cpu = time.process_time() - cpu0
    say(f"ingest: {first.files} files in {first.seconds:.1f} s wall ({first.files_per_s:.1f} files/s; "
        f"{first.files / cpu if cpu else 0:.1f} files/s of CPU), {first.stored} stored, {first.unchanged} unchanged, "
        f"{len(first.skipped)} skipped, {first.articles} articles, {first.clauses} clauses (load {_load()})")
    again = ingest_law_archive(archive, store)
    say(f"re-ingest: {again.unchanged} unchanged, {again.stored} stored in {again.seconds:.1f} s")
    t0 = time.perf_counter()
    rss0 = _rss_mib()
    corpus = store.load()
    load_s = time.perf_counter() - t0
    out = {
        "files": first.files, "stored": first.stored, "unchanged_before": first.unchanged,
        "skipped": first.skipped, "articles": first.articles, "clauses": first.clauses,
        "seconds": round(first.seconds, 1), "files_per_s": round(first.files_per_s, 1),
        "files_per_cpu_s": round(first.files / cpu, 1) if cpu else None,
        "reingest": {"unchanged": again.unchanged, "stored": again.stored, "seconds": round(again.seconds, 1)},
        "store_mib": round(_du_mib(store.root), 1), "store_load_s": round(load_s, 1),
        "store_load_rss_mib": round(_rss_mib() - rss0, 1),
        "documents": len(corpus.doc_ids), "editions": len(corpus),
        "stored_clauses": sum(len(p.clauses) for p in corpus),
    }
    say(f"store: {out['store_mib']} MiB on disk, loaded in {out['store_load_s']} s (+{out['store_load_rss_mib']} MiB)")
    return out


def bench_keyword_build(data_dir: Path) -> tuple[dict[str, Any], Path]:
    from index.build import BuildConfig, build_index

    t0 = time.perf_counter()
    path = build_index(data_dir, BuildConfig(dense=False))
    wall = time.perf_counter() - t0
    manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    out = {"seconds": round(wall, 1), "timings": manifest.get("timings"), "counts": manifest.get("counts"),
           "index_mib": round(_du_mib(path), 1), "peak_rss_mib": round(_peak_mib(), 1)}
    say(f"keyword build: {out['seconds']} s, {out['counts']['rows']} rows, {out['index_mib']} MiB; "
        f"timings {out['timings']}")
    return out, path


def bench_dense(data_dir: Path, sample: int, derive: bool = True) -> dict[str, Any]:
    from corpus.store import Store
    from index.dense import DenseBackend, factory_for
    from index.embedding import load_embedder
    from index.shards import passage_texts

    corpus = Store(data_dir).load()
    t0 = time.perf_counter()
    texts = passage_texts(corpus)
    plan_s = time.perf_counter() - t0
    n = len(texts)
    embedder = load_embedder(side="passage")
    rng = np.random.default_rng(7)
    picked = [texts[i] for i in rng.choice(n, size=min(sample, n), replace=False)]
    embedder.encode_passages(picked[:8])  # warm-up
    t0 = time.perf_counter()
    vecs = np.asarray(embedder.encode_passages(picked), dtype=np.float32)
    rate = len(picked) / (time.perf_counter() - t0)
    out: dict[str, Any] = {
        "passages": n, "plan_s": round(plan_s, 1), "sample": len(picked), "passages_per_s": round(rate, 1),
        "projected_hours_one_process": round(n / rate / 3600, 1),
        "embedded_for_real": len(picked),
        "note": f"only {len(picked)} of {n} passages were embedded with the real model in this run; a full dense "
                f"build would take ≈{n / rate / 3600:.1f} h here — use `regkb build --shard i/n` workers "
                "(resumable) and then `regkb build`",
    }
    say(f"dense: {n} passages; model rate {rate:.1f} passages/s on {len(picked)} -> ≈{n / rate / 3600:.1f} h for all "
        f"(load {_load()})")
    if derive and len(vecs):
        # faiss at full scale on vectors DERIVED from the real ones (noise, renormalised): timing only
        base = vecs[rng.integers(0, len(vecs), size=n)]
        derived = base + rng.normal(0, 0.02, size=base.shape).astype(np.float32)
        derived /= np.linalg.norm(derived, axis=1, keepdims=True)
        factory = factory_for(n)
        t0 = time.perf_counter()
        backend = DenseBackend.build(derived, np.arange(n, dtype=np.int32), factory)
        build_s = time.perf_counter() - t0
        lat = []
        for q in vecs[:100]:
            t1 = time.perf_counter()
            backend.rank(q, None, 50)
            lat.append((time.perf_counter() - t1) * 1000)
        out["faiss"] = {"factory": factory, "vectors": n, "derived": True, "build_s": round(build_s, 1),
                        "search_p50_ms": round(statistics.median(lat), 1),
                        "search_p95_ms": round(float(np.percentile(lat, 95)), 1),
                        "index_mib": round(n * embedder.dim * 4 / 2**20, 1)}
        say(f"faiss ({factory}, {n} DERIVED vectors): build {build_s:.1f} s, search p50 "
            f"{out['faiss']['search_p50_ms']} ms")
    return out


def bench_shard_workers(data_dir: Path, limit: int) -> dict[str, Any]:
    """The same number of passages embedded by one worker, then by two `regkb build --shard i/2` workers at once."""
    regkb = [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), "build"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(specs: list[tuple[str, int]]) -> float:
        t0 = time.perf_counter()
        procs = [subprocess.Popen([*regkb, "--shard", s, "--limit", str(n)], env=env, cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for s, n in specs]
        for p in procs:
            out, _ = p.communicate()
            if p.returncode:
                raise RuntimeError(out[-2000:])
        return time.perf_counter() - t0

    one = run([("0/3", 2 * limit)])  # shard 0 of 3 for one worker, shards 1 and 2 of 3 for the pair: no overlap
    two = run([("1/3", limit), ("2/3", limit)])
    out = {"passages": 2 * limit, "one_worker_s": round(one, 1), "two_workers_s": round(two, 1),
           "speed_up": round(one / two, 2) if two else None}
    say(f"shards: {2 * limit} passages by 1 worker {one:.1f} s, by 2 workers {two:.1f} s (load {_load()})")
    return out


def bench_search(data_dir: Path, questions: Path, repeat: int = 3) -> dict[str, Any]:
    from index.search import Searcher

    rss0 = _rss_mib()
    t0 = time.perf_counter()
    searcher = Searcher.load(data_dir)
    cold = time.perf_counter() - t0
    qs = [json.loads(line) for line in questions.read_text("utf-8").splitlines() if line.strip()]
    searcher.search("ウォームアップ", mode="bm25")
    lat: list[float] = []
    r1 = r5 = 0
    for rep in range(repeat):
        for q in qs:
            t1 = time.perf_counter()
            res = searcher.search(q["question"], k=10, mode="bm25")
            lat.append((time.perf_counter() - t1) * 1000)
            if rep == 0:
                want = {(e["doc"], e["section"]) for e in q.get("expected", [])}
                got = [(h.doc, h.section) for h in res.hits]
                r1 += bool(got[:1] and got[0] in want)
                r5 += bool(want & set(got[:5]))
    total_s = sum(lat) / 1000
    out = {"cold_start_s": round(cold, 1), "rss_mib": round(_rss_mib(), 1), "rss_added_mib": round(_rss_mib() - rss0, 1),
           "rows": len(searcher.rows), "queries": len(lat), "p50_ms": round(statistics.median(lat), 1),
           "p95_ms": round(float(np.percentile(lat, 95)), 1), "qps_one_thread": round(len(lat) / total_s, 1),
           "mode": "bm25", "questions": str(questions.name), "R@1": round(r1 / len(qs), 3),
           "R@5": round(r5 / len(qs), 3)}
    say(f"search (bm25, {out['rows']} rows): cold start {out['cold_start_s']} s, RSS {out['rss_mib']} MiB, "
        f"p50 {out['p50_ms']} ms, p95 {out['p95_ms']} ms, {out['qps_one_thread']} q/s; statute questions R@1 "
        f"{out['R@1']} R@5 {out['R@5']}")
    return out


def run(archive: Path, data_dir: Path, embed_sample: int = 256, shard_limit: int = 128,
        questions: Path | None = None) -> dict[str, Any]:
    from eval.bench_machine import machine

    questions = questions or REPO / "eval" / "questions" / "laws.jsonl"
    out: dict[str, Any] = {"archive": str(archive), "machine": machine(), "load_start": _load(),
                           "granularity": "article = one indexed row; 項/号 child clauses (not indexed); 別表 rows "
                                          "indexed; 附則 of amending acts stored, not indexed"}
    out["ingest"] = bench_ingest(archive, data_dir)
    out["keyword_build"], _ = bench_keyword_build(data_dir)
    out["search"] = bench_search(data_dir, questions)
    out["dense"] = bench_dense(data_dir, embed_sample)
    if shard_limit:
        out["shards"] = bench_shard_workers(data_dir, shard_limit)
    out["load_end"] = _load()
    return out


def markdown(r: dict[str, Any]) -> str:
    i, k, s, d = r["ingest"], r["keyword_build"], r["search"], r["dense"]
    t = k.get("timings") or {}
    lines = [
        f"| measure | value |", "|---|---|",
        f"| laws ingested (skipped) | {i['stored']} ({len(i['skipped'])}) of {i['files']} files |",
        f"| articles / all clauses stored | {i['articles']:,} / {i['clauses']:,} |",
        f"| ingest | {i['seconds']} s wall, {i['files_per_s']} files/s ({i['files_per_cpu_s']} files per CPU-second) |",
        f"| re-ingest, nothing changed | {i['reingest']['seconds']} s, {i['reingest']['unchanged']} unchanged |",
        f"| store | {i['store_mib']} MiB, load {i['store_load_s']} s, +{i['store_load_rss_mib']} MiB RSS |",
        f"| keyword build (rows) | {k['seconds']} s ({k['counts']['rows']:,} rows); refs {t.get('refs_s')} s, tokenize "
        f"{t.get('tokenize_s')} s, + BM25 → {t.get('bm25_s')} s, + heading/lead/reading fields → "
        f"{t.get('fields_s')} s (cumulative) |",
        f"| index on disk (keyword) | {k['index_mib']} MiB; build peak RSS {k['peak_rss_mib']} MiB |",
        f"| cold start / RSS | {s['cold_start_s']} s / {s['rss_mib']} MiB |",
        f"| BM25 latency | p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, {s['qps_one_thread']} q/s (one thread) |",
        f"| statute questions at full scale (bm25) | R@1 {s['R@1']}, R@5 {s['R@5']} |",
        f"| passages to embed | {d['passages']:,}; e5 {d['passages_per_s']} passages/s → ≈{d['projected_hours_one_process']} h |",
    ]
    if "faiss" in d:
        f = d["faiss"]
        lines.append(f"| faiss {f['factory']} ({f['vectors']:,} DERIVED vectors) | build {f['build_s']} s, search p50 "
                     f"{f['search_p50_ms']} ms, p95 {f['search_p95_ms']} ms, {f['index_mib']} MiB |")
    if "shards" in r:
        sh = r["shards"]
        lines.append(f"| shard workers ({sh['passages']} passages) | 1 worker {sh['one_worker_s']} s, 2 workers "
                     f"{sh['two_workers_s']} s (×{sh['speed_up']}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.bench_laws", description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path, help="the e-Gov archive (.tar.xz) or a directory of law files")
    ap.add_argument("--data-dir", type=Path, default=REPO / "bench-results" / "laws-data")
    ap.add_argument("--out", type=Path, default=REPO / "bench-results" / "bench-laws.json")
    ap.add_argument("--embed-sample", type=int, default=256, help="passages embedded for real to measure the rate")
    ap.add_argument("--shard-limit", type=int, default=128, help="passages per shard worker (0: skip)")
    args = ap.parse_args(argv)
    result = run(args.archive, args.data_dir, args.embed_sample, args.shard_limit)
    result["table_markdown"] = md = markdown(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), "utf-8")
    args.out.with_suffix(".md").write_text(md + "\n", "utf-8")
    say(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
