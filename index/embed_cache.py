"""A cache of passage embeddings keyed by (model, passage text), so rebuilding after one new edition embeds only
the new passages. Stored as a plain .npy matrix and a JSON list of keys, replaced atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    def __init__(self, directory: Path, model_name: str, dim: int) -> None:
        safe = hashlib.sha256(model_name.encode()).hexdigest()[:12]
        self.dir = directory / f"{safe}-{dim}"
        self.dim = dim
        self.index: dict[str, int] = {}
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        try:
            keys = json.loads((self.dir / "keys.json").read_text())
            vectors = np.load(self.dir / "vectors.npy")
            if vectors.shape == (len(keys), dim):
                self.index = {k: i for i, k in enumerate(keys)}
                self.vectors = vectors
        except (OSError, ValueError):
            pass  # no cache yet, or a damaged one: start afresh

    def embed(self, texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        keys = [_key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self.index}.items())
        if missing:
            new = np.asarray(encode([t for _, t in missing]), dtype=np.float32)
            base = len(self.vectors)
            self.vectors = np.vstack([self.vectors, new]) if base else new
            for i, (k, _) in enumerate(missing):
                self.index[k] = base + i
            self._save()
        log.info("embeddings: %d cached, %d computed", len(texts) - len(missing), len(missing))
        return self.vectors[[self.index[k] for k in keys]] if keys else np.zeros((0, self.dim), np.float32)

    def _save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        # Left by a build killed mid-save; builds hold the build lock, so no live writer owns one.
        for stale in self.dir.glob(".tmp-*"):
            stale.unlink(missing_ok=True)
        keys = sorted(self.index, key=self.index.__getitem__)
        for name, write in (("vectors.npy", lambda f: np.save(f, self.vectors)),
                            ("keys.json", lambda f: f.write(json.dumps(keys).encode()))):
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.dir)
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, self.dir / name)
