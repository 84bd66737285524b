"""Shared fixtures. Everything runs offline; paths are relative to this file, never to the working directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from corpus.store import Store
from ingest.pipeline import ingest_bundled
from tests.storeutil import ingest_bundled_without_laws

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
def small_built_data_dir(built_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory like ``built_data_dir`` without the seven statutes: the five bundled documents, the synthetic
    第1版 and a real hybrid index (e5 embeddings). For tests of how builds are made, swapped in and killed, which
    do not depend on corpus size: a rebuild takes ~1 s of keyword work instead of ~5 s.

    Its passages are the same texts as in ``built_data_dir``, whose embedding cache comes along: nothing is
    embedded again. Shared by the session: copy it before changing it."""
    from index.build import build_index
    from ingest.pipeline import ingest_paths

    data_dir = tmp_path_factory.mktemp("small-built")
    shutil.copytree(built_data_dir / "cache", data_dir / "cache")
    store = Store(data_dir)
    ingest_bundled_without_laws(store)
    ingest_paths([DATA / "hojokin-qa-edition1.txt"], store)
    build_index(data_dir)
    return data_dir


@pytest.fixture(scope="session")
def searcher(built_data_dir: Path):  # type: ignore[no-untyped-def]
    from index.search import Searcher

    s = Searcher.load(built_data_dir)
    s.warm_up()
    return s
