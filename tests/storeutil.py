"""Test helper: a byte-level snapshot of a store, to assert that a refused input changed nothing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from corpus.store import Store


def snapshot(store: Store) -> dict[str, str]:
    """Relative path -> sha256 of every file under the store (the lock file aside)."""
    out = {}
    for root, _, files in os.walk(store.root):
        for f in files:
            p = Path(root) / f
            if p.name != ".lock":
                out[str(p.relative_to(store.root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
