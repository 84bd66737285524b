"""Index builds for the benchmark: the one build (index/build.py) fed with the benchmark's vectors, timed.

Every size is built by index/build.py itself, given a passage encoder (``BenchEncoder``) that hands it the vectors of
a ``VectorFn`` (the model's, or derived: eval/bench_vectors.py) and times them apart from the build's own steps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from corpus.collection import Corpus
from eval.bench_vectors import VectorFn, passages_of
from index.build import BuildConfig, build_index


class BenchEncoder:
    """The passage encoder handed to index/build.py: the loaded model's identity (its name goes into the manifest, so
    queries are embedded with it), vectors from ``vector_fn`` (the model itself, or derived), timed."""

    def __init__(self, embedder: Any, vector_fn: VectorFn, corpus: Corpus) -> None:
        self._embedder = embedder
        self._vector_fn = vector_fn
        texts, keys = passages_of(corpus)
        self._key_of: dict[str, tuple[str, int]] = {}
        for t, k in zip(texts, keys):
            self._key_of.setdefault(t, k)  # the build embeds each distinct text once
        self.seconds = 0.0
        self.info: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    @property
    def cache_tag(self) -> str:
        # Derived vectors must never be mistaken for the model's in an embedding cache.
        return f"{getattr(self._embedder, 'cache_tag', self._embedder.name)}#bench-{id(self._vector_fn):x}"

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        t0 = time.perf_counter()
        vectors, info = self._vector_fn(list(texts), [self._key_of[t] for t in texts])
        self.seconds += time.perf_counter() - t0
        for k, v in info.items():
            self.info[k] = self.info.get(k, 0) + v if isinstance(v, int) else v
        return vectors


def build(data_dir: Path, corpus: Corpus, vector_fn: VectorFn, embedder: Any, *, factory: str | None = None,
          log: Callable[[str], None] = print) -> tuple[Path, dict[str, Any]]:
    """The one build (index/build.py) with vectors from ``vector_fn``; returns (build dir, report) with the build's
    own timings per component, the vectors' time split out of the dense step, and the disk usage."""
    encoder = BenchEncoder(embedder, vector_fn, corpus)
    t0 = time.perf_counter()
    final = build_index(data_dir, BuildConfig(faiss_factory=factory), corpus=corpus, embedder=encoder)
    total = time.perf_counter() - t0
    manifest = json.loads((final / "manifest.json").read_text("utf-8"))
    t = manifest["timings"]
    timings = {"refs_s": t.get("refs_s", 0.0), "tokenize_s": t.get("tokenize_s", 0.0),
               "bm25_index_s": t["bm25_s"] - t.get("tokenize_s", 0.0), "fields_s": t.get("fields_s", 0.0),
               "vectors_s": encoder.seconds, "faiss_s": max(0.0, t.get("dense_s", 0.0) - encoder.seconds),
               "metadata_s": t.get("metadata_s", 0.0), "total_s": total}
    counts = manifest["counts"]
    report = {"rows": counts["rows"], "passages": counts["passages"], "documents": counts["documents"],
              "editions": counts["editions"], "clauses": counts["clauses"],
              "factory": manifest["dense"]["factory"], "vocab": manifest["bm25"]["vocab_size"],
              "timings_s": {k: round(v, 3) for k, v in timings.items()},
              "tokenize_units_per_s": round(counts["rows"] / t["tokenize_s"], 1) if t.get("tokenize_s") else None,
              "vectors": encoder.info, "disk": disk_usage(final)}
    log(f"    tokenized {counts['rows']:,} units in {timings['tokenize_s']:.1f}s; faiss {report['factory']} over "
        f"{counts['passages']:,} passages in {timings['faiss_s']:.1f}s")
    return final, report


def disk_usage(build_dir: Path) -> dict[str, int]:
    def size(p: Path) -> int:
        if p.is_dir():
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return p.stat().st_size if p.exists() else 0

    parts = {"bm25": size(build_dir / "bm25"), "faiss": size(build_dir / "dense.faiss"),
             "passage_rows": size(build_dir / "passage_rows.npy"), "clauses_jsonl": size(build_dir / "clauses.jsonl"),
             "other": 0}
    parts["total"] = size(build_dir)
    parts["other"] = parts["total"] - sum(v for k, v in parts.items() if k not in ("total", "other"))
    return parts
