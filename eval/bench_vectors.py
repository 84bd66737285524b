"""Passage vectors for the benchmark's corpora: a real subset embedded with the model, the rest DERIVED from it.

Embedding 100k passages on 2 cores takes hours, so for synthetic sizes a real subset of passages is embedded with
the model and every other passage vector is DERIVED: the vector of an embedded passage from the same template clause
plus small Gaussian noise, renormalised (cosine ≈ 0.92 to its source).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from corpus.collection import Corpus
from eval.bench_corpus import Synthetic
from index.build import BuildConfig
from index.units import clause_texts

# (passage texts, their (clause key, passage index)) -> (vectors, a report of how they were made)
VectorFn = Callable[[list[str], list[tuple[str, int]]], tuple[np.ndarray, dict[str, Any]]]


def noise_sigma(dim: int, cosine: float) -> float:
    """Per-coordinate sigma so that a unit vector plus noise has about this cosine to the original."""
    r = (1.0 / cosine ** 2 - 1.0) ** 0.5
    return r / dim ** 0.5


@dataclass
class VectorSource:
    """Real embeddings for a subset of passages, derived ones for the rest (see the module docstring)."""

    embedded: dict[str, np.ndarray]  # passage text -> real embedding
    by_template: dict[tuple[str, int], list[str]]  # (template clause key, passage index) -> embedded passage texts
    by_template_clause: dict[str, list[str]]
    embed_seconds: float
    target_cosine: float = 0.92
    seed: int = 11

    def __post_init__(self) -> None:
        # One stream per source: the build asks for vectors a chunk at a time, and chunks must not repeat the noise.
        self._rngs = (np.random.default_rng(self.seed), random.Random(self.seed))

    def vectors(self, passage_texts: list[str], passage_keys: list[tuple[str, int]],
                template_of: dict[str, str], dim: int) -> tuple[np.ndarray, dict[str, Any]]:
        rng, pyrng = self._rngs
        out = np.empty((len(passage_texts), dim), dtype=np.float32)
        sigma = noise_sigma(dim, self.target_cosine)
        real = derived = 0
        all_embedded = list(self.embedded)
        derived_rows: list[int] = []
        sources: list[str] = []
        for i, (text, (key, pidx)) in enumerate(zip(passage_texts, passage_keys)):
            vec = self.embedded.get(text)
            if vec is not None:
                out[i] = vec
                real += 1
                continue
            tkey = template_of.get(key, key)
            cands = self.by_template.get((tkey, pidx)) or self.by_template_clause.get(tkey) or all_embedded
            sources.append(pyrng.choice(cands))
            derived_rows.append(i)
        if derived_rows:
            base = np.stack([self.embedded[s] for s in sources])
            base += rng.normal(0.0, sigma, size=base.shape).astype(np.float32)
            base /= np.linalg.norm(base, axis=1, keepdims=True)
            out[derived_rows] = base
            derived = len(derived_rows)
        info = {"real_embedded": real, "derived": derived, "noise_sigma": round(sigma, 5),
                "target_cosine_to_source": self.target_cosine,
                "method": "derived = embedding of a really-embedded passage of the same template clause + "
                          "N(0, sigma^2) per coordinate, renormalised"}
        return out, info


def passages_of(corpus: Corpus) -> tuple[list[str], list[tuple[str, int]]]:
    texts: list[str] = []
    keys: list[tuple[str, int]] = []
    for parsed in corpus:
        for clause, _, dense in clause_texts(parsed, BuildConfig().chunking):
            for j, p in enumerate(dense):
                texts.append(p)
                keys.append((clause.key, j))
    return texts, keys


def embed_subset(embedder: Any, synth: Synthetic, n: int, seed: int = 5,
                 progress: Callable[[int, int], None] | None = None) -> VectorSource:
    texts, keys = passages_of(synth.corpus)
    uniq: dict[str, tuple[str, int]] = {}
    for t, k in zip(texts, keys):
        uniq.setdefault(t, k)
    pool = list(uniq)
    random.Random(seed).shuffle(pool)
    chosen = pool[:n]
    t0 = time.perf_counter()
    vecs = []
    for i in range(0, len(chosen), 64):
        vecs.append(embedder.encode_passages(chosen[i:i + 64], batch_size=32))
        if progress:
            progress(min(i + 64, len(chosen)), len(chosen))
    seconds = time.perf_counter() - t0
    mat = np.vstack(vecs) if vecs else np.zeros((0, embedder.dim), np.float32)
    embedded = {t: mat[i] for i, t in enumerate(chosen)}
    by_template: dict[tuple[str, int], list[str]] = {}
    by_clause: dict[str, list[str]] = {}
    for t in chosen:
        key, pidx = uniq[t]
        tkey = synth.template_of.get(key, key)
        by_template.setdefault((tkey, pidx), []).append(t)
        by_clause.setdefault(tkey, []).append(t)
    return VectorSource(embedded, by_template, by_clause, seconds)
