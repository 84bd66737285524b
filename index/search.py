"""Search: filters -> candidate rows, BM25 and dense rankings, fusion, then cited hits with snippets.

By default every document is searched in its latest edition; ``edition``, ``as_of``, ``doc`` and ``kind`` narrow
it. Superseded editions are never candidates unless asked for, so they cannot outrank the current text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from corpus.collection import Corpus
from corpus.errors import BadQuery, IndexMismatch, RegkbError
from corpus.lawcite import find_law_citations, law_names
from corpus.model import Clause, Document
from corpus.query import MAX_QUERY_CHARS, check_query
from corpus.store import Store
from index.answer_line import clause_answer_line
from index.adapter import QueryAdapter
from index.build import SCHEMA_VERSION
from index.calibration import ConfidenceModel
from index.citations import CitationResolver
from index.clausefile import ClauseRows, load_clauses
from index.confidence import Confidence, assess
from index.dense import DenseBackend
from index.embedding.base import EncoderConfig
from index.embedding.model import model_key
from index.features import Candidates, Retrieved, candidates, confidence_vector
from index.rowfacts import RowFacts, parent_flags
from index.fusion import convex_fusion, rrf_fusion
from index.homophones import HomophoneFixer
from index.kana_lexicon import KanaLexicon
from index.keyword import KeywordBackend
from index.reading import ReadingTokenizer
from index.rerank import RankerModel
from index.vocabulary import Vocabulary, default_vocabulary
from index.layout import current_build
from index.predicate import predicate_of
from index.snippets import fold_terms, highlight_spans, snippet_from_spans
from index.tokenizer import Tokenizer, TokenizerConfig

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "bm25", "dense"]
MODES: tuple[str, ...] = ("hybrid", "bm25", "dense")
CANDIDATES = 50  # per system, before fusion
MASK_CACHE = 64  # filter masks kept per loaded build (the corpus of a build never changes)
ANSWER_CACHE = 4096  # answer lines kept per loaded build (a clause's answer line never changes; ~1 MiB)
CITED_PROBABILITY = 0.99  # a clause the query names by number and that exists is what the user asked for
# A query citing a clause the corpus does not have (「Q&A 9-9」, 「…法施行令第8条」): no hit is what was asked for.
UNRESOLVED_PROBABILITY = 0.02

# The two libraries that keep native state per thread run on one dedicated thread each (per process): the query
# embedding (the model's own thread, index.embedding.batcher, which also micro-batches concurrent queries) and the
# query tokenizer (one MeCab tagger per thread, each mapping the 250 MB unidic dictionary). Run on the request
# threads instead, all 40 of the server's worker threads end up with their own copies: RSS under 32 concurrent
# clients grew by ~1 GiB (measured by eval/bench.py). The candidates' features run on the tokenizer's thread too:
# the predicate feature tags sentences with MeCab.
_WORKERS_LOCK = threading.Lock()
_WORKERS: dict[str, tuple[int, ThreadPoolExecutor]] = {}


def _worker(name: str) -> ThreadPoolExecutor:
    pid = os.getpid()
    entry = _WORKERS.get(name)
    if entry is None or entry[0] != pid:  # a forked child cannot use its parent's thread
        with _WORKERS_LOCK:
            entry = _WORKERS.get(name)
            if entry is None or entry[0] != pid:
                entry = _WORKERS[name] = (pid, ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"regkb-{name}"))
    return entry[1]


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """Default: the learned fusion (index/rerank.py, weights from eval/train.py). "rrf" is the earlier weighted
    RRF (k=60, BM25 1.5 : dense 1.0) and "convex" a min-max score combination, kept for comparison runs."""

    method: Literal["learned", "rrf", "convex"] = "learned"
    rrf_k: float = 60.0
    weights: dict[str, float] = field(default_factory=lambda: {"bm25": 1.5, "dense": 1.0})

    def describe(self) -> dict[str, Any]:
        if self.method == "learned":
            return {"method": "learned", "k": None, "weights": None}
        return {"method": self.method, "k": self.rrf_k if self.method == "rrf" else None, "weights": self.weights}


@dataclass(frozen=True, slots=True)
class SearchFilters:
    doc: str | None = None
    kind: str | None = None
    edition: int | None = None
    as_of: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    doc: str
    section: str
    edition: int
    edition_label: str | None
    date: str | None
    kind: str
    citation: str
    heading: str
    text: str
    answer: str | None
    snippet: str
    snippet_highlights: list[tuple[int, int]]
    text_highlights: list[tuple[int, int]]
    score: float
    bm25_rank: int | None
    dense_rank: int | None
    bm25_score: float | None
    dense_score: float | None
    note: str | None  # 「第2版で追記」 when the clause is new or changed in its edition
    doc_title: str
    doc_kind: str = ""  # the document's kind: qa, youkou, slides, notice, law (results say 通知・Q&A vs 法令)
    doc_label: str = ""  # the document's short name: 「難病法」, 「Q&A」
    cited: bool = False  # the query cited this clause by number (「Q&A 2-5」)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    hits: list[Hit]
    confident: bool
    confidence: dict[str, Any]
    mode: str
    # Calibrated probability (0–1) that the first hit governs the question, and what the page should say:
    # "answer" (lead with it), "check" (related clauses, verify), "out_of_scope" (the documents do not cover it).
    probability: float
    verdict: Literal["answer", "check", "out_of_scope"]
    fusion: dict[str, Any]
    filters: dict[str, Any]
    took_ms: float
    # Citations typed in the query that the corpus does not have (CitationResolver.unresolved), as typed.
    unresolved_citations: list[str] = field(default_factory=list)
    # Words the learned hybrid added to the query (Retrieved.added): 「オン資」 → オンライン資格確認, 「育生」 → 育成.
    added_terms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in asdict(self).items() if k != "hits"}, "hits": [h.to_json() for h in self.hits]}


def check_model(manifest: dict[str, Any], encoder: EncoderConfig | None) -> None:
    """Refuse a configured model (REGKB_EMBEDDING_MODEL) other than the one the index was built with."""
    built = (manifest.get("model") or {}).get("name")
    wanted = encoder.model if encoder is not None else None
    if built is None or wanted is None or model_key(wanted) == model_key(built):
        return
    raise IndexMismatch(f"the index was built with embedding model {built}, but the settings ask for {wanted}",
                        "unset REGKB_EMBEDDING_MODEL to search this index, or rebuild it with that model "
                        "(`regkb build --model ...`)")


class Searcher:
    """A loaded build: shared read-only by every request (the tokenizer is per-thread internally)."""

    def __init__(self, build_dir: Path, manifest: dict[str, Any], corpus: Corpus, rows: Sequence[Clause],
                 notes: dict[str, str], encoder: EncoderConfig | None = None, *, vocabulary: Vocabulary | None = None,
                 ranker: RankerModel | None = None, calibration: ConfidenceModel | None = None,
                 adapter: QueryAdapter | None = None, max_query_chars: int = MAX_QUERY_CHARS, row_table: RowArrays | None = None) -> None:
        """``rows``: each search row's clause (a list, or index.clausefile.ClauseRows reading them on demand);
        ``row_table``: the per-row arrays, computed from ``rows`` when not given (``load`` gives them, from the
        build's files, so that no clause is read at load)."""
        self.build_dir = build_dir
        self.manifest = manifest
        self.corpus = corpus
        self.rows = rows
        self.notes = notes
        self.max_query_chars = max_query_chars
        tok = manifest["tokenizer"]
        self.tokenizer = Tokenizer(TokenizerConfig(**{k: tok[k] for k in ("lemmas", "drop_stop", "number_phrases",
                                                                           "bigrams")}))
        self.keyword = KeywordBackend.load(build_dir)
        self.heading = KeywordBackend.load(build_dir, field="bm25_heading")
        self.lead = KeywordBackend.load(build_dir, field="bm25_lead")
        self.reading = KeywordBackend.load(build_dir, field="bm25_reading")
        self.reader = ReadingTokenizer()
        self.kana = KanaLexicon.load(build_dir)
        self.homophones = HomophoneFixer.load(build_dir, self.kana)
        self.vocabulary: Vocabulary = vocabulary or default_vocabulary()
        self.ranker = ranker or RankerModel.load()
        self.calibration = calibration or ConfidenceModel.load()
        self._citations: CitationResolver | None = None
        self.dense = DenseBackend.load(build_dir, manifest["dense"]["factory"]) if manifest.get("dense") else None
        self.adapter = adapter or (QueryAdapter.load(model=manifest["model"]["name"], dim=manifest["model"]["dim"])
                                   if self.dense is not None else QueryAdapter())
        self._encoder = encoder or EncoderConfig()
        self._embedder: Any = None
        table = row_table or RowArrays.of_clauses(rows, corpus)
        self._row_doc, self._row_kind, self._row_edition = table.doc, table.kind, table.edition
        doc_code = {d: i for i, d in enumerate(corpus.doc_ids)}
        self._row_doc_code = np.array([doc_code[d] for d in table.doc.tolist()], dtype=np.int64)
        self._masks: OrderedDict[SearchFilters, np.ndarray] = OrderedDict()
        self._masks_lock = threading.Lock()
        self._default_mask = self._mask(SearchFilters())
        self._facts = RowFacts.load(build_dir, rows, self._row_kind, is_parent=table.is_parent)
        self._answers: OrderedDict[str, str | None] = OrderedDict()
        self._answers_lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, data_dir: Path, *, check_corpus: bool = True, encoder: EncoderConfig | None = None,
             **models: Any) -> Searcher:
        """``encoder``: where the model cache is and which backend runs queries; its ``model``, when set, must be the
        one the index was built with (it is checked, never silently preferred). ``models``: vocabulary, ranker,
        calibration, adapter overrides (training and experiments), default the bundled; max_query_chars, the longest query
        accepted (the settings' REGKB_MAX_QUERY_CHARS)."""
        build = current_build(Path(data_dir))
        manifest = json.loads((build / "manifest.json").read_text("utf-8"))
        if manifest.get("schema") != SCHEMA_VERSION:
            raise IndexMismatch(f"index schema {manifest.get('schema')} but this regkb reads schema {SCHEMA_VERSION}",
                                "rebuild it with `regkb build`")
        check_model(manifest, encoder)
        store = Store(data_dir)
        if check_corpus and store.exists() and store.state_hash() != manifest.get("corpus_hash"):
            raise IndexMismatch("the index was built from a different corpus than the one now stored "
                                f"(index {manifest.get('corpus_hash')}, corpus {store.state_hash()})",
                                "run `regkb build` to index the current corpus")
        docs = [Document.from_json(d) for d in json.loads((build / "documents.json").read_text("utf-8"))]
        # The clauses stay in clauses.jsonl, read when a row or an edition is asked for (index/clausefile.py)
        clauses, table = load_clauses(build, docs)
        rows = ClauseRows(clauses, table.clause)
        kinds = np.array([d.kind for d in docs], dtype=object)
        numbers = np.array([d.edition for d in docs], dtype=np.int32)
        ids = np.array([d.id for d in docs], dtype=object)
        arrays = RowArrays(ids[table.edition], kinds[table.edition], numbers[table.edition], table.is_parent)
        notes = json.loads((build / "notes.json").read_text("utf-8"))
        return cls(build, manifest, clauses.corpus(), rows, notes, encoder, row_table=arrays, **models)

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from index.embedding import load_embedder

            # The build's own model, always: the configuration only says where the cache is and how to run it.
            config = replace(self._encoder, model=self.manifest["model"]["name"])
            embedder = load_embedder(config, side="query")
            if embedder.dim != self.manifest["model"]["dim"]:
                raise IndexMismatch(f"embedding model {embedder.name} has dimension {embedder.dim}, "
                                    f"the index {self.manifest['model']['dim']}", "rebuild it with `regkb build`")
            self._embedder = embedder
        return self._embedder

    @property
    def embedding_backend(self) -> str | None:
        """The backend that embeds queries ("onnx-int8", "onnx-fp32", "torch"); None before it is loaded or
        for a keyword-only index."""
        return self._embedder.backend if self._embedder is not None else None

    def warm_up(self) -> None:
        """Load the model and run one query so the first user does not wait for it."""
        if self.dense is not None:
            self.encode_query("ウォームアップ")
        self._tokenize_query("ウォームアップ")

    def encode_query(self, query: str) -> np.ndarray:
        """The query's vector, computed on the model's thread (micro-batched with concurrent queries), or cached."""
        return self._start_encoding(query).result()

    def _start_encoding(self, query: str) -> Future[np.ndarray]:
        return self.embedder.submit_query(query)  # the model is loaded (or refused) on the caller's thread

    def _tokenize_query(self, query: str) -> tuple[list[str], list[str]]:
        """(BM25 tokens, surface terms to highlight) of a query, on the tokenizer's thread."""
        tokenizer = self.tokenizer

        def analyse() -> tuple[list[str], list[str]]:
            a = tokenizer.analyse(query)  # one MeCab pass for both
            return a.tokens, a.terms

        return _worker("tokenize").submit(analyse).result()

    # -- filtering -----------------------------------------------------------------------------------------------

    def _doc(self, c: Clause) -> Document:
        return self.corpus.get(c.doc_id, c.edition).document

    def _mask(self, f: SearchFilters) -> np.ndarray:
        """The rows ``f`` allows (read-only), computed once per distinct filter; bad filters raise every time."""
        with self._masks_lock:
            mask = self._masks.get(f)
            if mask is not None:
                self._masks.move_to_end(f)
                return mask
        mask = self._compute_mask(f)
        mask.flags.writeable = False
        with self._masks_lock:
            self._masks[f] = mask
            while len(self._masks) > MASK_CACHE:
                self._masks.popitem(last=False)
        return mask

    def _compute_mask(self, f: SearchFilters) -> np.ndarray:
        mask = np.ones(len(self.rows), dtype=bool)
        if f.doc is not None:
            self.corpus.editions(f.doc)  # raises DocumentNotFound with the list of known ids
            mask &= self._row_doc == f.doc
        if f.kind is not None:
            mask &= self._row_kind == f.kind
        if f.edition is not None:
            if f.doc is not None:
                self.corpus.get(f.doc, f.edition)  # raises EditionNotFound
            mask &= self._row_edition == f.edition
        else:
            wanted = np.full(len(self.corpus.doc_ids), -1, dtype=np.int64)  # -1: no edition wanted (none in force)
            for i, doc_id in enumerate(self.corpus.doc_ids):
                if f.as_of is not None:
                    p = self.corpus.in_force(doc_id, f.as_of)
                else:
                    p = self.corpus.get(doc_id)
                if p is not None:
                    wanted[i] = p.document.edition
            mask &= wanted[self._row_doc_code] == self._row_edition
        return mask

    # -- searching -----------------------------------------------------------------------------------------------

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None, mode: Mode = "hybrid",
               fusion: FusionConfig | None = None) -> SearchResult:
        started = time.perf_counter()
        query = check_query(query, self.max_query_chars)
        if mode not in MODES:
            raise BadQuery(f"unknown mode {mode!r}", "use hybrid, bm25 or dense")
        if mode == "hybrid" and self.dense is None:
            mode = "bm25"  # a keyword-only build (`regkb build --no-dense`) answers hybrid requests with BM25
        if mode == "dense" and self.dense is None:
            raise BadQuery("this index was built without embeddings", "use mode bm25, or rebuild with embeddings")
        filters = filters or SearchFilters()
        fusion = fusion or FusionConfig()
        allowed = self._default_mask if filters == SearchFilters() else self._mask(filters)

        if mode == "hybrid" and fusion.method == "learned":
            return self._search_learned(query, k, filters, allowed, started)

        # The model runs on its own thread (torch releases the GIL): start it first, tokenize and rank BM25 meanwhile.
        vector = self._start_encoding(query) if mode != "bm25" else None
        tokens, terms = self._tokenize_query(query)
        bm25 = self.keyword.rank(tokens, allowed, CANDIDATES) if mode != "dense" else []
        dense: list[tuple[int, float]] = []
        if vector is not None:
            dense = self.dense.rank(vector.result(), allowed, CANDIDATES)  # type: ignore[union-attr]

        bm25_rank = {row: i for i, (row, _) in enumerate(bm25, start=1)}
        bm25_score, dense_score = dict(bm25), dict(dense)
        if mode == "bm25":
            fused = bm25_score
        elif mode == "dense":
            fused = dense_score
        elif fusion.method == "rrf":
            fused = rrf_fusion({"bm25": [r for r, _ in bm25], "dense": [r for r, _ in dense]},
                               k=fusion.rrf_k, weights=fusion.weights)
        else:
            fused = convex_fusion({"bm25": bm25_score, "dense": dense_score}, weights=fusion.weights)
        order = sorted(fused, key=lambda r: (-fused[r], bm25_rank.get(r, 10**9), r))[:k]

        conf = assess(tokens, bm25, dense, self.keyword)
        hits = self._hits([(row, fused[row]) for row in order], bm25, dense, terms, query)
        hits, unresolved = self._with_citations(query, hits, filters, terms, k)
        confident = (conf.confident or hits[0].cited) and not unresolved if hits else False
        verdict = "answer" if confident else ("check" if hits and conf.coverage >= 0.5 and not unresolved
                                              else "out_of_scope")
        return SearchResult(
            query=query, hits=hits, confident=confident, confidence=conf.to_json(), mode=mode,
            probability=0.9 if confident else 0.2, verdict=verdict,  # type: ignore[arg-type]
            fusion=fusion.describe() if mode == "hybrid" else {"method": mode},
            filters=_filters_json(filters), took_ms=round((time.perf_counter() - started) * 1000, 2),
            unresolved_citations=unresolved,
        )

    # -- the learned hybrid ----------------------------------------------------------------------------------------

    def retrieve(self, query: str, allowed: np.ndarray | None = None) -> tuple[Retrieved, Candidates, list[str]]:
        """Every retriever's candidates for ``query`` and their feature vectors (also used by eval/train.py);
        the third item is the query's surface terms, for highlighting."""
        allowed = self._default_mask if allowed is None else allowed
        expansions = self.vocabulary.expansions(query) + self.kana.convert(query)
        if self.homophones.suspects(query):  # MeCab reads the suspect kanji: on the tokenizer's thread
            fixes = _worker("tokenize").submit(self.homophones.corrections, query, self.tokenizer).result()
            expansions += [w for w in fixes if w not in expansions]
        dense_query = f"{query}（{'、'.join(expansions)}）" if expansions else query
        vector = self._start_encoding(dense_query) if self.dense is not None else None
        extra = " ".join(expansions)
        tokenizer, reader = self.tokenizer, self.reader

        def analyse() -> tuple[list[str], list[str], list[str], str | None]:
            # One MeCab pass over the query gives its tokens, its highlight terms and its predicate (a feature).
            a = tokenizer.analyse(query)
            tokens = a.tokens + (tokenizer.tokenize(extra) if extra else [])
            return tokens, a.terms, reader.tokenize(query), predicate_of(a.words)

        tokens, terms, reading_tokens, asked = _worker("tokenize").submit(analyse).result()
        bm25 = self.keyword.rank(tokens, allowed, CANDIDATES)
        heading = self.heading.rank(tokens, allowed, CANDIDATES // 2)
        reading = self.reading.rank(reading_tokens, allowed, CANDIDATES // 2)
        q = vector.result() if vector is not None else None
        dense = self.dense.rank(q, allowed, CANDIDATES) if q is not None else []  # type: ignore[union-attr]
        r = Retrieved(tokens, reading_tokens, bm25, heading, reading, dense, tuple(dict.fromkeys(expansions)), q)
        adapted = None
        if q is not None:
            moved, backend = self.adapter.apply(q), self.dense

            def adapted(rows: np.ndarray) -> np.ndarray:
                return backend.row_cosines(moved, rows)  # type: ignore[union-attr]
        named = frozenset(c.law_id for c in find_law_citations(query, self.citations.law_names))
        facts, keyword, heading_kb, lead = self._facts, self.keyword, self.heading, self.lead
        # On the tokenizer's thread: the predicate feature runs MeCab (one tagger per thread), and RowFacts' caches
        # are then filled by one thread only.
        cands = _worker("tokenize").submit(lambda: candidates(query, r, facts, keyword, heading_kb, lead, named,
                                                              asked=asked, adapted=adapted)).result()
        return r, cands, terms

    def _search_learned(self, query: str, k: int, filters: SearchFilters, allowed: np.ndarray,
                        started: float) -> SearchResult:
        r, cands, terms = self.retrieve(query, allowed)
        scores = self.ranker.score(cands.x[:, self.ranker.columns()]) if cands.rows else np.zeros(0)
        order = np.argsort(-scores, kind="stable")
        z = confidence_vector(cands, scores, order)
        probability = self.calibration.probability(z) if cands.rows else 0.0
        hits = self._hits([(cands.rows[int(i)], float(scores[i])) for i in order[:k]], r.bm25, r.dense, terms, query)
        hits, unresolved = self._with_citations(query, hits, filters, terms, k)
        if hits and hits[0].cited:
            probability = max(probability, CITED_PROBABILITY)
        if unresolved:
            probability = min(probability, UNRESOLVED_PROBABILITY)
        verdict = self.calibration.verdict(probability) if hits else "out_of_scope"
        conf = {name: round(float(v), 4) for name, v in zip(self.calibration.features, z)}
        return SearchResult(
            query=query, hits=hits, confident=verdict == "answer", confidence=conf, mode="hybrid",
            probability=round(probability, 4), verdict=verdict,  # type: ignore[arg-type]
            fusion={"method": "learned", "model": self.ranker.info.get("name", "ranker"),
                    "query_adapter": self.adapter.matrix is not None},
            filters=_filters_json(filters), took_ms=round((time.perf_counter() - started) * 1000, 2),
            unresolved_citations=unresolved, added_terms=list(r.added),
        )

    @property
    def citations(self) -> CitationResolver:
        if self._citations is None:
            self._citations = CitationResolver(self.corpus, law_names(self.corpus))
        return self._citations

    def _with_citations(self, query: str, hits: list[Hit], filters: SearchFilters, terms: list[str],
                        k: int) -> tuple[list[Hit], list[str]]:
        """Clauses the query cites by number lead, in the edition it names (else the one searched); with them, the
        citations of the query the corpus lacks, unless a clause it cites leads (one lookup for both)."""
        looked = self.citations.lookup(query)
        cited = []
        for cc in looked.cited:
            c = cc.clause
            if (filters.doc and c.doc_id != filters.doc) or (filters.kind and self._doc(c).kind != filters.kind):
                continue
            if filters.edition is None and filters.as_of is not None:
                p = self.corpus.in_force(c.doc_id, filters.as_of)
                if p is None or p.document.edition != c.edition:
                    continue
            cited.append(c)
        if cited:
            top = max((h.score for h in hits), default=0.0)
            ids = {(c.doc_id, c.edition, c.section) for c in cited}
            folded = fold_terms(terms)
            lead = [self._hit(c, top + 1.0, None, None, None, None, folded, query, cited=True) for c in cited]
            hits = (lead + [h for h in hits if (h.doc, h.edition, h.section) not in ids])[:k]
        return hits, ([] if hits and hits[0].cited else looked.unresolved)

    def _hits(self, ranked: list[tuple[int, float]], bm25: list[tuple[int, float]], dense: list[tuple[int, float]],
              terms: list[str], query: str) -> list[Hit]:
        """Hits for ``ranked`` (row, fused score), each with its BM25 and dense rank and score where it had them."""
        bm25_rank = {row: i for i, (row, _) in enumerate(bm25, start=1)}
        dense_rank = {row: i for i, (row, _) in enumerate(dense, start=1)}
        bm25_score, dense_score = dict(bm25), dict(dense)
        folded = fold_terms(terms)  # once per query, not per hit
        return [self._hit(self.rows[row], score, bm25_rank.get(row), dense_rank.get(row), bm25_score.get(row),
                          dense_score.get(row), folded, query) for row, score in ranked]

    def _parent(self, c: Clause) -> Clause | None:
        if not c.parent:
            return None
        try:
            return self.corpus.clause(c.doc_id, c.parent, c.edition)
        except RegkbError:
            return None

    def _answer_line(self, c: Clause) -> str | None:
        """The clause's answer line (index/answer_line.py; it does not depend on the query), kept per clause."""
        key = c.key
        with self._answers_lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        line = clause_answer_line(c, self._parent(c))
        with self._answers_lock:
            self._answers[key] = line
            while len(self._answers) > ANSWER_CACHE:
                self._answers.popitem(last=False)
        return line

    def _hit(self, c: Clause, score: float, bm25_rank: int | None, dense_rank: int | None,
             bm25_score: float | None, dense_score: float | None, terms: list[str] | frozenset[str], query: str,
             cited: bool = False) -> Hit:
        """``terms``: the query's highlight terms, or fold_terms() of them."""
        doc = self._doc(c)
        spans = highlight_spans(c.text, terms)  # found once: the snippet's highlights are cut from them
        snippet, snippet_marks = snippet_from_spans(c.text, spans)
        return Hit(
            doc=c.doc_id, section=c.section, edition=c.edition, edition_label=doc.edition_label,
            date=doc.date.isoformat() if doc.date else None, kind=c.kind, citation=c.citation,
            heading=c.heading, text=c.text, answer=self._answer_line(c),
            snippet=snippet, snippet_highlights=snippet_marks, text_highlights=spans,
            score=round(float(score), 6), bm25_rank=bm25_rank, dense_rank=dense_rank,
            bm25_score=round(bm25_score, 4) if bm25_score is not None else None,
            dense_score=round(dense_score, 4) if dense_score is not None else None,
            note=self.notes.get(c.key), doc_title=doc.title, doc_kind=doc.kind, doc_label=doc.label, cited=cited,
        )


@dataclass(frozen=True, slots=True)
class RowArrays:
    """What every row's filters and features need, as arrays: its document id, document kind, edition number, and
    whether another row is its child."""

    doc: np.ndarray  # object (str)
    kind: np.ndarray  # object (str)
    edition: np.ndarray  # int32
    is_parent: np.ndarray  # bool

    @classmethod
    def of_clauses(cls, rows: Sequence[Clause], corpus: Corpus) -> RowArrays:
        return cls(doc=np.array([c.doc_id for c in rows], dtype=object),
                   kind=np.array([corpus.get(c.doc_id, c.edition).document.kind for c in rows], dtype=object),
                   edition=np.array([c.edition for c in rows], dtype=np.int32), is_parent=parent_flags(rows))


def _filters_json(filters: SearchFilters) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(filters).items()}


__all__ = ["Confidence", "FusionConfig", "Hit", "SearchFilters", "SearchResult", "Searcher"]
