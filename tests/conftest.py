"""Shared fixtures. Everything runs offline; paths are relative to this file, never to the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.store import Store
from ingest.pipeline import ingest_bundled

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def bundled_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store holding the five bundled documents plus the synthetic 第1版 of the Q&A."""
    from ingest.pipeline import ingest_paths

    store = Store(tmp_path_factory.mktemp("store"))
    ingest_bundled(store)
    ingest_paths([DATA / "hojokin-qa-edition1.txt"], store)
    return store


@pytest.fixture()
def fresh_store(tmp_path: Path) -> Store:
    store = Store(tmp_path)
    ingest_bundled(store)
    return store
