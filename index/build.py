"""`regkb build`: corpus store in, a complete index directory out, swapped in atomically.

The build copies the clauses it indexed (clauses.jsonl, documents.json), so a server answers from one consistent
snapshot even while new editions are being ingested; the manifest records everything needed to trust it later.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from corpus.collection import Corpus
from corpus.errors import IndexNotBuilt
from corpus.refs import resolve_refs
from corpus.model import Clause
from corpus.store import Store, dump_json
from index.clausefile import write_clauses
from index.dense import DenseBackend
from index.embed_cache import EmbeddingCache
from index.embedding.base import EncoderConfig
from index.graph import compute_graph, write_graph
from index.keyword import KeywordBackend
from index.layout import build_lock, new_build_dir, publish
from index.notes import change_notes_for
from index.shards import merge_shards
from index.answer_line import lead_sentence
from index.homophones import HomophoneFixer, kanji_bigrams
from index.kana_lexicon import KanaLexicon
from index.reading import ReadingTokenizer
from index.rowfacts import RowFacts
from index.tokenizer import Tokenizer, TokenizerConfig
from index.units import ChunkConfig, clause_texts

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: heading, lead-sentence and reading fields (bm25_heading/, bm25_lead/, bm25_reading/)


@dataclass(frozen=True, slots=True)
class BuildConfig:
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    chunking: ChunkConfig = field(default_factory=ChunkConfig)
    # The model (None: the bundled e5-small), the model cache and the backend, as the settings give them.
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    dense: bool = True
    faiss_factory: str | None = None  # None: chosen by corpus size


Progress = Callable[[str, int, int], None]


def _full_text(c: Clause) -> str:
    """A clause's heading and text as its readings, kana lexicon and kanji pairs all see it."""
    return f"{c.heading}\n{c.text}"


def build_index(data_dir: Path, config: BuildConfig = BuildConfig(), progress: Progress | None = None,
                corpus: Corpus | None = None, corpus_hash: str | None = None, embedder: Any | None = None) -> Path:
    """Build from the store under ``data_dir`` (or the given corpus) and make it current. Returns the build dir.

    ``embedder``: the passage encoder to use instead of loading the configured model. The benchmarks pass theirs
    (the model they loaded and time, or one that derives vectors for synthetic corpora); its ``name`` is recorded as
    the model that embeds queries."""
    store = Store(data_dir)
    if corpus is None:
        if not store.exists():
            raise IndexNotBuilt(f"no corpus in {store.root}", "run `regkb ingest` first")
        corpus_hash = store.state_hash()
        corpus = store.load()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    corpus = resolve_refs(corpus)
    timings["refs_s"] = time.perf_counter() - t0
    build_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    with build_lock(data_dir):
        tmp = new_build_dir(data_dir, build_id)
        rows: list[Clause] = []
        unit_texts: list[str] = []
        dense_texts: list[list[str]] = []
        for parsed in corpus:
            for clause, keyword_text, dense_passages in clause_texts(parsed, config.chunking):
                rows.append(clause)
                unit_texts.append(keyword_text)
                dense_texts.append(dense_passages)

        t0 = time.perf_counter()
        tokenizer = Tokenizer(config.tokenizer)
        token_lists = []
        for i, text in enumerate(unit_texts):
            token_lists.append(tokenizer.tokenize(text))
            if progress and i % 200 == 0:
                progress("tokenize", i, len(unit_texts))
        timings["tokenize_s"] = time.perf_counter() - t0
        keyword = KeywordBackend.build(token_lists)
        manifest_bm25 = keyword.save(tmp)
        timings["bm25_s"] = time.perf_counter() - t0

        # Two more keyword fields for the learned fusion (index/rerank.py): headings/questions alone, and kana
        # readings (hiragana and mis-converted queries).
        t0 = time.perf_counter()
        reader = ReadingTokenizer()
        heading_lists, lead_lists, reading_lists = [], [], []
        for i, clause in enumerate(rows):
            heading_lists.append(tokenizer.tokenize(clause.heading) if clause.heading else [])
            lead_lists.append(tokenizer.tokenize(lead_sentence(clause)))
            reading_lists.append(reader.tokenize(_full_text(clause)))
            if progress and i % 200 == 0:
                progress("readings", i, len(rows))
        KeywordBackend.build(heading_lists).save(tmp, "bm25_heading")
        KeywordBackend.build(lead_lists).save(tmp, "bm25_lead")
        KeywordBackend.build(reading_lists).save(tmp, "bm25_reading")
        lexicon = KanaLexicon.collect(_full_text(c) for c in rows)
        lexicon.save(tmp)
        HomophoneFixer(kanji_bigrams(_full_text(c) for c in rows), lexicon).save(tmp)
        timings["fields_s"] = time.perf_counter() - t0
        # What the learned fusion's features read of each row, learnt here once rather than by the first queries.
        t0 = time.perf_counter()
        row_kind = np.array([corpus.get(c.doc_id, c.edition).document.kind for c in rows], dtype=object)
        manifest_facts = RowFacts(rows, row_kind).save(tmp)
        timings["facts_s"] = time.perf_counter() - t0

        manifest_dense: dict[str, Any] | None = None
        model_info: dict[str, Any] | None = None
        if config.dense:
            t0 = time.perf_counter()
            from index.embedding import load_embedder

            if embedder is None:
                embedder = load_embedder(config.encoder, side="passage")
            passage_texts: list[str] = []
            passage_rows: list[int] = []
            for row, texts in enumerate(dense_texts):
                for p in texts:
                    passage_texts.append(p)
                    passage_rows.append(row)
            # Keyed by model and backend: vectors of another backend are not reused. A killed build resumes here.
            cache = EmbeddingCache(Path(data_dir) / "cache" / "embeddings", embedder.cache_tag, embedder.dim)
            # vectors from `regkb build --shard i/n` workers (index/shards.py) count as cached
            merge_shards(Path(data_dir), cache, passage_texts, embedder.cache_tag, embedder.dim)
            vectors = cache.embed(passage_texts, embedder.encode_passages,
                                  (lambda done, total: progress("embed", done, total)) if progress else None)
            dense = DenseBackend.build(vectors, np.asarray(passage_rows, dtype=np.int32), config.faiss_factory)
            # distinct passage texts embedded by this build, and those its embedding cache already held
            manifest_dense = {**dense.save(tmp), "embedded": cache.computed, "cached": cache.reused}
            model_info = {"name": embedder.name, "dim": embedder.dim, "backend": embedder.backend,
                          "query_prompt": embedder.query_prompt, "passage_prompt": embedder.passage_prompt}
            timings["dense_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        write_clauses(tmp, corpus, rows)  # clauses.jsonl, its offsets (read on demand when served), rows.jsonl
        (tmp / "documents.json").write_bytes(dump_json([p.document.to_json() for p in corpus]))
        (tmp / "notes.json").write_bytes(dump_json(change_notes_for(corpus)))
        timings["metadata_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        manifest_graph = write_graph(tmp, compute_graph(corpus))  # parents, children, outline, refs both ways
        timings["graph_s"] = time.perf_counter() - t0

        manifest = {
            "schema": SCHEMA_VERSION,
            "build_id": build_id,
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "package_version": version("regkb"),
            "corpus_hash": corpus_hash,
            "tokenizer": {**Tokenizer.versions(), **config.tokenizer.describe()},
            "chunking": config.chunking.describe(),
            "bm25": manifest_bm25,
            "dense": manifest_dense,
            "model": model_info,
            "graph": manifest_graph,
            "row_facts": manifest_facts,
            "counts": {"documents": len(corpus.doc_ids), "editions": len(corpus), "rows": len(rows),
                       "clauses": sum(len(p.clauses) for p in corpus),
                       "passages": manifest_dense["passages"] if manifest_dense else 0},
            "timings": {k: round(v, 3) for k, v in timings.items()},
        }
        (tmp / "manifest.json").write_bytes(dump_json(manifest))
        final = publish(data_dir, tmp, build_id)
    log.info("built index %s: %d rows", build_id, len(rows))
    return final


def rebuild_like_current(data_dir: Path, progress: Progress | None = None,
                         encoder: EncoderConfig | None = None) -> Path:
    """Rebuild with the settings of the build being served (dense or not, same model): after an ingest.
    ``encoder`` gives the model cache and backend; its model is replaced by the served build's."""
    from index.layout import current_build

    manifest = json.loads((current_build(Path(data_dir)) / "manifest.json").read_text("utf-8"))
    model = (manifest.get("model") or {}).get("name")
    config = BuildConfig(dense=manifest.get("dense") is not None,
                         encoder=replace(encoder or EncoderConfig(), model=model))
    return build_index(data_dir, config, progress)
