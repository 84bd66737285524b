"""A cache of passage embeddings keyed by (model+backend, passage text), so rebuilding after one new edition embeds
only the new passages, and a killed build resumes where it stopped.

On disk: a base matrix (vectors.npy + keys.json) and append-only shards (shard-NNNNNN.npz: a fixed-width key array
and a float32 matrix, no pickle), each written aside and renamed into place. A build writes one shard per
CHUNK passages it embeds, so a kill loses at most one chunk; when shards pile up they are merged into the base.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from corpus.fsutil import atomic_write

log = logging.getLogger(__name__)

CHUNK = 512  # passages embedded between two saves (~10-20 s of work on 2 cores)
MAX_SHARDS = 32  # merged into the base beyond this many


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    def __init__(self, directory: Path, model_name: str, dim: int) -> None:
        safe = hashlib.sha256(model_name.encode()).hexdigest()[:12]
        self.dir = directory / f"{safe}-{dim}"
        self.dim = dim
        self.index: dict[str, int] = {}
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        parts: list[tuple[list[str], np.ndarray]] = []
        try:
            keys = json.loads((self.dir / "keys.json").read_text())
            vectors = np.load(self.dir / "vectors.npy")
            if vectors.shape == (len(keys), dim):
                parts.append((keys, vectors))
        except (OSError, ValueError):
            pass  # no cache yet, or a damaged one: start afresh
        for shard in self._shards():
            try:
                with np.load(shard, allow_pickle=False) as z:
                    keys, vectors = [str(k) for k in z["keys"]], np.asarray(z["vectors"], dtype=np.float32)
                if vectors.shape == (len(keys), dim):
                    parts.append((keys, vectors))
            except (OSError, ValueError, KeyError):
                log.warning("ignoring a damaged embedding cache shard %s", shard.name)
        if parts:
            self.vectors = np.vstack([v for _, v in parts])
            i = 0
            for keys, _ in parts:
                for k in keys:
                    self.index[k] = i  # a key saved twice (a merge cut short) keeps its last copy
                    i += 1

        # distinct texts the last ``embed`` had to encode, and those it found here
        self.computed = self.reused = 0

    def _shards(self) -> list[Path]:
        return sorted(self.dir.glob("shard-*.npz")) if self.dir.is_dir() else []

    def embed(self, texts: list[str], encode: Callable[[list[str]], np.ndarray],
              progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Vectors of ``texts`` in order; the missing ones are encoded CHUNK at a time and saved after each chunk."""
        keys = [_key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self.index}.items())
        self.computed = len(missing)
        self.reused = len(set(keys)) - len(missing)
        if missing:
            self._remove_temp_files()
            for start in range(0, len(missing), CHUNK):
                chunk = missing[start:start + CHUNK]
                new = np.asarray(encode([t for _, t in chunk]), dtype=np.float32).reshape(len(chunk), self.dim)
                self._append([k for k, _ in chunk], new)
                if progress:
                    progress(start + len(chunk), len(missing))
            if len(self._shards()) > MAX_SHARDS:
                self._merge()
        log.info("embeddings: %d cached, %d computed", len(texts) - len(missing), len(missing))
        return self.vectors[[self.index[k] for k in keys]] if keys else np.zeros((0, self.dim), np.float32)

    def _append(self, keys: list[str], new: np.ndarray) -> None:
        base = len(self.vectors)
        self.vectors = np.vstack([self.vectors, new]) if base else new
        for i, k in enumerate(keys):
            self.index[k] = base + i
        shards = self._shards()
        seq = int(shards[-1].stem.split("-")[1]) + 1 if shards else 0
        self._write(f"shard-{seq:06d}.npz",
                    lambda f: np.savez(f, keys=np.array(keys, dtype="<U32"), vectors=new))

    def _merge(self) -> None:
        """Everything into the base; the shards go only after the base that holds them is in place."""
        shards = self._shards()
        keys = sorted(self.index, key=self.index.__getitem__)
        vectors = self.vectors[[self.index[k] for k in keys]]
        self._write("vectors.npy", lambda f: np.save(f, vectors))
        self._write("keys.json", lambda f: f.write(json.dumps(keys).encode()))
        for shard in shards:
            shard.unlink(missing_ok=True)
        self.vectors, self.index = vectors, {k: i for i, k in enumerate(keys)}

    def _remove_temp_files(self) -> None:
        # Left by a build killed mid-save; builds hold the build lock, so no live writer owns one.
        for stale in self.dir.glob(".tmp-*") if self.dir.is_dir() else []:
            stale.unlink(missing_ok=True)

    def _write(self, name: str, write: Callable[..., object]) -> None:
        atomic_write(self.dir / name, write)
