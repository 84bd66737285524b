"""Embedding a large corpus in parallel, resumable pieces: ``regkb build --shard i/n`` then ``regkb build``.

At ≈200k statute articles (≈600k passages) embedding takes hours on 2 cores. Each worker embeds the passages whose
text hash falls in its shard (``hash % n == i``: no shared order or coordination needed), writing its vectors in
parts of ``PART`` passages, each part written atomically: a killed worker resumes after its last complete part.
A later ``regkb build`` merges every finished part into the embedding cache (through ``EmbeddingCache.embed``, the
cache's public interface) before it embeds what is still missing.

    <data-dir>/cache/embedding-shards/<cache tag hash>-<dim>/part-<shard>-<n>-<seq>.npy   vectors (float32)
    <data-dir>/cache/embedding-shards/<cache tag hash>-<dim>/part-<shard>-<n>-<seq>.json  their text hashes
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from corpus.collection import Corpus
from corpus.fsutil import atomic_write
from index.units import ChunkConfig, clause_texts

log = logging.getLogger(__name__)

PART = 2048  # passages per part file: the most a killed worker loses


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def passage_texts(corpus: Corpus, chunking: ChunkConfig = ChunkConfig()) -> list[str]:
    """Every distinct dense passage the build will embed, in build order."""
    seen: dict[str, None] = {}
    for parsed in corpus:
        for _clause, _keyword, passages in clause_texts(parsed, chunking):
            for p in passages:
                seen.setdefault(p, None)
    return list(seen)


def in_shard(text: str, shard: int, of: int) -> bool:
    return int(text_hash(text)[:8], 16) % of == shard


def shard_dir(data_dir: Path, cache_tag: str, dim: int) -> Path:
    return Path(data_dir) / "cache" / "embedding-shards" / f"{hashlib.sha256(cache_tag.encode()).hexdigest()[:12]}-{dim}"


def parse_shard(spec: str) -> tuple[int, int]:
    """"0/2" -> (0, 2); raises ValueError for anything else."""
    a, sep, b = spec.partition("/")
    i, n = int(a), int(b)
    if not sep or n < 1 or not 0 <= i < n:
        raise ValueError(f"bad shard {spec!r}: write i/n with 0 <= i < n, e.g. 0/2")
    return i, n


def _done_hashes(directory: Path) -> set[str]:
    done: set[str] = set()
    for meta in directory.glob("part-*.json"):
        try:
            done.update(json.loads(meta.read_text()))
        except (OSError, ValueError):
            continue  # a damaged part is embedded again
    return done


def _write_part(directory: Path, stem: str, vectors: np.ndarray, hashes: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    # vectors first, then the hash list that makes the part count: a part without its .json is ignored
    for suffix, write in ((".npy", lambda f: np.save(f, vectors.astype(np.float32))),
                          (".json", lambda f: f.write(json.dumps(hashes).encode()))):
        atomic_write(directory / f"{stem}{suffix}", write)


@dataclass(frozen=True, slots=True)
class ShardReport:
    shard: int
    of: int
    passages: int  # in this shard
    already: int  # done by an earlier (killed or limited) run
    embedded: int  # this run
    seconds: float

    @property
    def per_second(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0


def embed_shard(data_dir: Path, texts: list[str], shard: int, of: int, embedder: Any, limit: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> ShardReport:
    """Embed this shard's share of ``texts`` not yet done (at most ``limit`` this run), part by part."""
    started = time.perf_counter()
    directory = shard_dir(data_dir, getattr(embedder, "cache_tag", None) or embedder.name, embedder.dim)
    mine = [t for t in texts if in_shard(t, shard, of)]
    done = _done_hashes(directory)
    todo = [t for t in mine if text_hash(t) not in done]
    already = len(mine) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    seq = len(list(directory.glob(f"part-{shard}-{of}-*.json"))) if directory.exists() else 0
    for start in range(0, len(todo), PART):
        chunk = todo[start:start + PART]
        vectors = np.asarray(embedder.encode_passages(chunk), dtype=np.float32)
        _write_part(directory, f"part-{shard}-{of}-{seq:05d}", vectors, [text_hash(t) for t in chunk])
        seq += 1
        if progress:
            progress(min(start + PART, len(todo)), len(todo))
    report = ShardReport(shard, of, len(mine), already, len(todo), time.perf_counter() - started)
    log.info("shard %d/%d: %d passages, %d done before, %d embedded in %.1f s", shard, of, report.passages,
             already, report.embedded, report.seconds)
    return report


def merge_shards(data_dir: Path, cache: Any, texts: Iterable[str], cache_tag: str, dim: int) -> int:
    """Put every finished shard vector of ``texts`` into ``cache`` (an EmbeddingCache); returns how many were there.
    Texts no shard has embedded are left for the build to embed."""
    directory = shard_dir(data_dir, cache_tag, dim)
    if not directory.is_dir():
        return 0
    lookup: dict[str, np.ndarray] = {}
    for meta in sorted(directory.glob("part-*.json")):
        try:
            hashes = json.loads(meta.read_text())
            vectors = np.load(meta.with_suffix(".npy"))
        except (OSError, ValueError):
            continue
        if vectors.shape != (len(hashes), dim):
            continue
        lookup.update(zip(hashes, vectors))
    present = [t for t in dict.fromkeys(texts) if text_hash(t) in lookup]
    if present:
        cache.embed(present, lambda missing: np.stack([lookup[text_hash(t)] for t in missing]))
    log.info("merged %d shard vectors into the embedding cache", len(present))
    return len(present)


def run_shard(data_dir: Path, spec: str, encoder: Any = None, limit: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> ShardReport:
    """`regkb build --shard i/n`: embed shard i of n of the stored corpus's passages (no index is written)."""
    from corpus.errors import IndexNotBuilt
    from corpus.store import Store
    from index.embedding import load_embedder

    shard, of = parse_shard(spec)
    store = Store(data_dir)
    if not store.exists():
        raise IndexNotBuilt(f"no corpus in {store.root}", "run `regkb ingest` first")
    texts = passage_texts(store.load())
    try:
        embedder = load_embedder(encoder, side="passage")
    except TypeError:  # an embedding layer that takes only the model's name
        embedder = load_embedder(getattr(encoder, "model", encoder))
    return embed_shard(Path(data_dir), texts, shard, of, embedder, limit, progress)
