"""Dense recall at the statute archive's scale on REAL vectors (issue 12): embed every passage of a build, then HNSW
against exact search.

    python -m eval.bench_real_vectors embed --data-dir DIR --out OUT     # resumable; ~1 h on 2 cores (bf16)
    python -m eval.bench_real_vectors recall --out OUT [--ef 512 2048] [--factory HNSW32,SQfp16]
    python -m eval.bench_real_vectors serve --data-dir DIR --out OUT [--clients 16] [--seconds 20]

``embed`` chunks the build's corpus exactly as the build does (its manifest's chunking) and writes OUT/vectors.f32
(float32, passages × dim, a raw memory map) with OUT/rows.npy (each passage's row) and OUT/done.npy (which passages
are embedded): a killed run resumes where it stopped. ``recall`` builds the approximate index as regkb does and
writes OUT/recall.json: clause recall@10 against exact search, as the dense side ranks (200 passages asked, best
passage per clause), strictly and with ties at float16 precision counted (bench_baselines.clause_recall), per
efSearch with the candidates' scores as found and rescored with the float32 vectors (as the server does), and for
exact search over float16 vectors, over the statute and user questions and generated variants of
them. Sessions 6 and 7's figures (326,668 passages): README, "Hybrid at the statute archive's scale".
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from eval.bench_baselines import faiss_exact_vs_hnsw
from eval.bench_queries import distinct_queries
from eval.question_set import load_questions
QUESTIONS = Path(__file__).parent / "questions"
CHUNK = 8192  # passages per embedding call, saved after each


def _passages(data_dir: Path) -> tuple[list[str], np.ndarray]:
    from corpus.store import Store
    from index.layout import current_build
    from index.units import ChunkConfig, clause_texts

    build = current_build(data_dir)
    config = ChunkConfig(**json.loads((build / "manifest.json").read_text("utf-8"))["chunking"])
    texts: list[str] = []
    rows: list[int] = []
    row = 0
    for parsed in Store(data_dir).load():
        for _, _, passages in clause_texts(parsed, config):
            texts += passages
            rows += [row] * len(passages)
            row += 1
    return texts, np.asarray(rows, dtype=np.int32)


def embed(data_dir: Path, out: Path) -> None:
    from index.embedding import EncoderConfig, load_embedder

    out.mkdir(parents=True, exist_ok=True)
    texts, rows = _passages(data_dir)
    np.save(out / "rows.npy", rows)
    encoder = load_embedder(EncoderConfig(), side="passage")
    path, done_path = out / "vectors.f32", out / "done.npy"
    vectors = np.memmap(path, dtype=np.float32, mode="r+" if path.exists() else "w+", shape=(len(texts), encoder.dim))
    done = np.load(done_path) if done_path.exists() else np.zeros(len(texts), dtype=bool)
    started, before = time.perf_counter(), int(done.sum())
    for first in range(0, len(texts), CHUNK):
        todo = np.arange(first, min(len(texts), first + CHUNK))
        todo = todo[~done[todo]]
        if not len(todo):
            continue
        vectors[todo] = encoder.encode_passages([texts[i] for i in todo])
        vectors.flush()
        done[todo] = True
        np.save(done_path, done)
        rate = (int(done.sum()) - before) / (time.perf_counter() - started)
        print(f"{int(done.sum())}/{len(texts)} passages, {rate:.1f}/s ({encoder.backend})", flush=True)


def _embedded(out: Path) -> tuple[np.ndarray, np.ndarray]:
    """OUT's passage rows and their vectors (float32, read into memory)."""
    rows = np.load(out / "rows.npy")
    return rows, np.array(np.memmap(out / "vectors.f32", dtype=np.float32, mode="r").reshape(len(rows), -1))


def recall(out: Path, ef_values: tuple[int, ...], factory: str) -> dict[str, object]:
    from index.dense import DenseBackend
    from index.embedding import EncoderConfig, load_embedder

    done = np.load(out / "done.npy")
    if not done.all():
        raise SystemExit(f"{int((~done).sum())} passages are not embedded yet: run `embed` again")
    rows, vectors = _embedded(out)
    encoder = load_embedder(EncoderConfig(), side="query")
    asked = [q.question for name in ("laws.jsonl", "users.jsonl") for q in load_questions(QUESTIONS / name)]
    questions = list(dict.fromkeys(asked + distinct_queries(600, seed=5)))[:800]
    queries = np.vstack([encoder.encode_query(q) for q in questions])
    started = time.perf_counter()
    index = DenseBackend.build(vectors, rows, factory).index
    report = faiss_exact_vs_hnsw(vectors, queries, hnsw_index=index, hnsw_build_s=time.perf_counter() - started,
                                 passage_rows=rows, ef_values=ef_values)
    report["factory"] = factory
    (out / "recall.json").write_text(json.dumps(report, indent=1), "utf-8")
    return report


def hybrid_copy(data_dir: Path, out: Path, factory: str) -> Path:
    """OUT/hybrid: a data directory whose current build is DATA_DIR's, every file linked, but for the dense index:
    ``factory`` over the real vectors (built once; removed to build again), and the keyword fields' dense columns
    where the build predates them. Returns it."""
    from index.dense import RESCORE_FILE, DenseBackend
    from index.keyword import HEAVY_TOKENS, write_heavy_columns
    from index.layout import current_build

    source = current_build(data_dir)
    target_dir = out / "hybrid"
    build = target_dir / "index" / "builds" / source.name
    if (build / "manifest.json").exists():
        return target_dir
    rows, vectors = _embedded(out)
    build.mkdir(parents=True, exist_ok=True)
    for f in source.iterdir():
        if f.name in ("dense.faiss", "passage_rows.npy", RESCORE_FILE, "manifest.json") or (build / f.name).exists():
            continue
        if f.is_dir() and f.name.startswith("bm25") and not (f / HEAVY_TOKENS).exists():
            # a build from before the dense columns of frequent tokens: its files linked, the columns added
            (build / f.name).mkdir()
            for g in f.iterdir():
                (build / f.name / g.name).symlink_to(g.resolve())
            write_heavy_columns(build / f.name)
            continue
        (build / f.name).symlink_to(f.resolve())
    for name in ("store", "corpus"):  # the ingested documents, if the layout keeps them beside the index
        if (data_dir / name).exists() and not (target_dir / name).exists():
            (target_dir / name).symlink_to((data_dir / name).resolve())
    manifest = json.loads((source / "manifest.json").read_text("utf-8"))
    manifest["dense"] = DenseBackend.build(vectors, rows, factory).save(build)
    manifest["note"] = "REAL vectors (eval/bench_real_vectors.py) with the keyword side of " + str(source)
    (build / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    (target_dir / "index" / "CURRENT").write_text(source.name, "utf-8")
    return target_dir


def serve(data_dir: Path, out: Path, factory: str, clients: int, seconds: float) -> dict[str, object]:
    """The hybrid server over the real vectors through HTTP: cold start, one client (200 distinct queries), then
    ``clients`` at once (1,146 distinct queries: the question files and perturbations of them), as
    eval.bench_http.measure_server measures it. Writes OUT/serve-<UTC time>.json; run it from two checkouts, taking
    turns, to compare two versions of the code on the same box."""
    from eval.bench_http import measure_server

    hybrid = hybrid_copy(data_dir, out, factory)
    asked = [q.question for name in ("laws.jsonl", "users.jsonl", "out-of-corpus.jsonl")
             for q in load_questions(QUESTIONS / name)]
    extra = distinct_queries(1500, seed=12)
    load_queries = list(dict.fromkeys(asked + extra))[:1146]
    sequential = list(dict.fromkeys(extra[::-1]))[:200]
    res = measure_server(hybrid, "ウォームアップ用の質問", load_queries, sequential, out / "server.log",
                         clients=clients, max_seconds=seconds)
    mib = 2 ** 20
    report: dict[str, object] = {
        "build": str(hybrid), "factory": factory, "clients": clients, "cold_start_s": res["cold_start_s"],
        "peak_rss_MiB": round(res["peak_rss_bytes"] / mib),
        "sequential": {k: res["sequential"].get(k) for k in ("completed", "qps", "latency_p50_ms", "latency_p95_ms",
                                                             "errors")},
        "load": {k: res["load"].get(k) for k in ("completed", "qps", "latency_p50_ms", "latency_p95_ms", "errors",
                                                 "server_cpu_ms_per_request")},
        "load_average": list(os.getloadavg())}
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (out / f"serve-{stamp}.json").write_text(json.dumps(report, indent=1), "utf-8")
    return report


def main(argv: list[str] | None = None) -> None:
    from index.dense import APPROX_FACTORY

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed", help="embed every passage of the build in --data-dir (resumable)")
    e.add_argument("--data-dir", type=Path, required=True)
    e.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("recall", help="HNSW against exact search on the embedded passages")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--ef", type=int, nargs="+", default=[256, 512, 1024, 2048])
    r.add_argument("--factory", default=APPROX_FACTORY)
    v = sub.add_parser("serve", help="the hybrid server over the embedded passages, through HTTP")
    v.add_argument("--data-dir", type=Path, required=True, help="the build the passages were embedded from")
    v.add_argument("--out", type=Path, required=True)
    v.add_argument("--factory", default=APPROX_FACTORY)
    v.add_argument("--clients", type=int, default=16)
    v.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    if args.command == "embed":
        embed(args.data_dir, args.out)
        return
    if args.command == "serve":
        print(json.dumps(serve(args.data_dir, args.out, args.factory, args.clients, args.seconds), indent=1))
        return
    report = recall(args.out, tuple(args.ef), args.factory)
    keys = ("clause_recall@10", "clause_recall@10_ties", "clause_recall@50")
    print({"exact search, float16 vectors": {k: report["exact_fp16"].get(k) for k in keys}})  # type: ignore[attr-defined]
    for row in report["hnsw"]["by_efSearch"]:  # type: ignore[index]
        print({k: row.get(k) for k in ("efSearch", *keys, "p50_ms")},
              {"rescored": {k: row["rescored"].get(k) for k in keys}})


if __name__ == "__main__":
    main()
