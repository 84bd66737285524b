"""Where the time goes: a pyinstrument profile of hybrid queries, by stage."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from eval.bench_common import K
from eval.bench_timing import on_model_thread


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

