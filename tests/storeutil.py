"""Test helpers: a byte-level snapshot of a store, to assert that a refused input changed nothing; the bundled
documents without the statutes, for tests whose property does not depend on corpus size."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from corpus.store import Store
from ingest.pipeline import bundled_entries, parse_file


def snapshot(store: Store) -> dict[str, str]:
    """Relative path -> sha256 of every file under the store (the lock file aside)."""
    out = {}
    for root, _, files in os.walk(store.root):
        for f in files:
            p = Path(root) / f
            if p.name != ".lock":
                out[str(p.relative_to(store.root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def ingest_bundled_without_laws(store: Store) -> None:
    """The five bundled regulation documents, without the seven bundled statutes (97% of the bundled text).

    For tests of how a build or an ingest is written, published, swapped in or survives a kill: the same files are
    written and the same file-system steps made whatever the corpus size, and the questions those tests ask (Q&A
    2-9, 2-11, 実施要綱 5エ) are answered from these five documents. A keyword build takes 1.1 s instead of 5.4 s."""
    store.put([parse_file(e.path, e.overrides) for e in bundled_entries() if e.overrides.kind != "law"])
