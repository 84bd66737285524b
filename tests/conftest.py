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


@pytest.fixture(scope="session")
def built_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the bundled corpus, the synthetic 第1版 and a real hybrid index (e5 embeddings).

    The embedding model is converted once into the user's model cache (~10 s the first time, offline)."""
    from index.build import build_index
    from ingest.pipeline import ingest_paths

    data_dir = tmp_path_factory.mktemp("built")
    store = Store(data_dir)
    ingest_bundled(store)
    ingest_paths([DATA / "hojokin-qa-edition1.txt"], store)
    build_index(data_dir)
    return data_dir


@pytest.fixture(scope="session")
def searcher(built_data_dir: Path):  # type: ignore[no-untyped-def]
    from index.search import Searcher

    s = Searcher.load(built_data_dir)
    s.warm_up()
    return s
