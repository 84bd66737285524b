"""Feature vectors for the learned fusion (index/rerank.py) and the confidence model (index/calibration.py).

One job: turn what the retrievers returned for a query into numbers — per candidate clause (FEATURES in rerank.py)
and per query (CONFIDENCE_FEATURES). Shared by the search and by the training in eval/train.py, so the model is
trained on exactly the features it is served with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from corpus.textnorm import fold
from index.adapter import candidate_columns
from index.keyword import KeywordBackend
from index.predicate import predicate
from index.rerank import FEATURES, asks_actor, asks_law, asks_list, asks_where, query_cues, softmax
from index.rowfacts import RowFacts

RRF_K = 60.0
RRF_WEIGHTS = {"bm25": 1.5, "dense": 1.0}

CONFIDENCE_FEATURES: tuple[str, ...] = (
    "top_prob",       # softmax of the ranker's scores: the first candidate's share
    "margin",         # ranker score of the first minus the second
    "top_score",      # ranker score of the first (comparable across queries: same model)
    "dense_top",      # best cosine of the query to any passage
    "coverage",       # IDF-weighted share of the query's words found anywhere in the corpus
    "top_text_cov",   # ... found together in the first candidate
    "top_heading_cov",
    "reading_top",    # best kana-bigram BM25 score, normalised by the query's bigram count
    "n_tokens",       # content words in the query (log1p)
    "unknown",        # content words of the query the corpus never uses (log1p): 電子処方箋, 加算 …
    "top_dense",      # cosine of the first candidate (not of the best passage anywhere)
    "bm25_per_token", # best BM25 score per query word
)


@dataclass(frozen=True, slots=True)
class Retrieved:
    """What the retrievers returned for one query (rows are build rows, best first)."""

    tokens: list[str]
    reading_tokens: list[str]
    bm25: list[tuple[int, float]]
    heading: list[tuple[int, float]]
    reading: list[tuple[int, float]]
    dense: list[tuple[int, float]]
    # Words the search added to the query (staff words' official terms, hiragana's corpus words, a kanji typo's
    # corpus word), in order: shown to the user, so a result that came through them can be understood.
    added: tuple[str, ...] = ()
    vector: np.ndarray | None = None  # the query's e5 vector (None without embeddings): eval.train refits on it


@dataclass(frozen=True, slots=True)
class Candidates:
    rows: list[int]
    x: np.ndarray              # len(rows) x len(FEATURES)
    query: np.ndarray          # CONFIDENCE_FEATURES without the ranker's part (filled in by ``confidence_vector``)


_COL = {f: i for i, f in enumerate(FEATURES)}
_TAG = object()  # ``candidates(asked=...)`` not given: tag the query for its predicate


def _spread(pos: dict[int, int], lst: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions in the pool, 1-based ranks, scores) of a retriever's list, its last entry for a repeated row
    (as a dict of it keeps)."""
    last = {row: (rank, score) for rank, (row, score) in enumerate(lst, start=1)}
    idx = np.fromiter((pos[row] for row in last), dtype=np.intp, count=len(last))
    ranks = np.fromiter((v[0] for v in last.values()), dtype=np.float64, count=len(last))
    scores = np.fromiter((v[1] for v in last.values()), dtype=np.float64, count=len(last))
    return idx, ranks, scores


def candidates(query: str, r: Retrieved, facts: RowFacts, keyword: KeywordBackend,
               heading: KeywordBackend, lead: KeywordBackend, named_laws: frozenset[str] = frozenset(), *,
               asked: str | None | object = _TAG,
               adapted: Callable[[np.ndarray], np.ndarray] | None = None) -> Candidates:
    """``named_laws``: ids of the statutes the query names (by title or short name). ``asked``: the query's
    predicate when the caller has it already (predicate_of the words of Tokenizer.analyse(query)), else the query
    is tagged for it here. ``adapted``: the adapted query vector's cosine to each of the given rows (None without
    embeddings: those features stay 0).

    Computed per feature over the whole candidate set (numpy), the same values as one candidate at a time
    (tests/test_features_vectorised.py keeps that loop and compares)."""
    pool = list(dict.fromkeys([row for lst in (r.bm25, r.dense, r.heading, r.reading) for row, _ in lst]))
    pool_arr = np.asarray(pool, dtype=np.int64)
    pos = {row: i for i, row in enumerate(pool)}
    n = len(pool)
    x = np.zeros((n, len(FEATURES)))
    tops = {name: (lst[0][1] if lst else 0.0) for name, lst in (("bm25", r.bm25), ("heading", r.heading),
                                                                ("reading", r.reading), ("dense", r.dense))}
    # weighted RRF over BM25 and dense (index.fusion.rrf_fusion: w / (k + rank), BM25's term first)
    rrf = np.zeros(n)
    for name, lst in (("bm25", r.bm25), ("dense", r.dense)):
        idx, ranks, _ = _spread(pos, lst)
        rrf[idx] = rrf[idx] + RRF_WEIGHTS[name] / (RRF_K + ranks)
    x[:, _COL["rrf"]] = rrf * RRF_K
    for name, lst in (("bm25", r.bm25), ("heading", r.heading), ("reading", r.reading)):
        idx, ranks, scores = _spread(pos, lst)
        top = tops[name]
        if not top <= 0:  # safe_rel: 0 for a row not retrieved, a NaN score or a top that is not positive
            x[idx, _COL[f"{name}_rel"]] = np.where(np.isnan(scores), 0.0, scores / top)
        x[idx, _COL[f"{name}_rr"]] = 1.0 / ranks
    idx, ranks, scores = _spread(pos, r.dense)
    if r.dense:
        dense = np.full(n, min(s for _, s in r.dense))  # the pool's floor for a row dense did not retrieve
        dense[idx] = scores
        x[:, _COL["dense_gap"]] = dense - tops["dense"]
    x[idx, _COL["dense_rr"]] = 1.0 / ranks
    if adapted is not None and n:
        x[:, _COL["adapted_gap"]], x[:, _COL["adapted_rr"]] = candidate_columns(adapted(pool_arr))
    coverage, text_cov = keyword.coverage(r.tokens, pool_arr)
    _, head_cov = heading.coverage(r.tokens, pool_arr)
    _, lead_cov = lead.coverage(r.tokens, pool_arr)
    x[:, _COL["text_cov"]] = text_cov
    x[:, _COL["heading_cov"]] = head_cov
    x[:, _COL["lead_cov"]] = lead_cov
    folded = fold(query)
    ask_amount, ask_date, numbers = query_cues(folded)
    if asked is _TAG:
        asked = predicate(folded)
    kind = facts.kinds(pool_arr)
    x[:, _COL["kind_item"]] = kind == "item"
    x[:, _COL["kind_clause"]] = kind == "clause"
    x[:, _COL["kind_page"]] = kind == "page"
    is_law = facts.is_law[pool_arr]
    is_parent = facts.is_parent[pool_arr]
    x[:, _COL["kind_law"]] = is_law
    x[:, _COL["is_parent"]] = is_parent
    bits = facts.cue_bits(pool_arr)
    if ask_amount:
        x[:, _COL["cue_amount"]] = (bits & RowFacts._AMOUNT) != 0
    if ask_date:
        x[:, _COL["cue_date"]] = (bits & RowFacts._DATE) != 0
    if asks_list(folded):
        x[:, _COL["cue_list"]] = is_parent
    if named_laws:
        x[:, _COL["law_named"]] = is_law & np.array([facts.rows[row].doc_id in named_laws for row in pool], dtype=bool)
    if asks_law(folded):
        x[:, _COL["law_cue"]] = is_law
    if asks_actor(folded):
        x[:, _COL["cue_actor"]] = (bits & RowFacts._ACTOR) != 0
    if asks_where(folded):
        x[:, _COL["cue_where"]] = (bits & RowFacts._DESTINATION) != 0
    x[:, _COL["predicate_match"]] = facts.predicate_matches(pool_arr, asked)  # type: ignore[arg-type]
    if numbers:
        runs = [facts.number_runs(row) for row in pool]
        x[:, _COL["number_match"]] = [sum(nb in text for nb in numbers) / len(numbers) for text in runs]
    reading_top = (r.reading[0][1] / max(len(r.reading_tokens), 1)) if r.reading else 0.0
    unknown = sum(1 for t in set(r.tokens) if len(t) >= 2 and not len(keyword.postings(t)))
    qf = np.array([0.0, 0.0, 0.0, tops["dense"], coverage, 0.0, 0.0, reading_top, float(np.log1p(len(set(r.tokens)))),
                   float(np.log1p(unknown)), 0.0, tops["bm25"] / max(len(set(r.tokens)), 1)])
    return Candidates(pool, x, qf)


def confidence_vector(c: Candidates, scores: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The query's CONFIDENCE_FEATURES once the ranker has scored the candidates (``order``: best first)."""
    q = c.query.copy()
    if len(order) == 0:
        return q
    col = {f: i for i, f in enumerate(FEATURES)}
    first = order[0]
    q[0] = float(softmax(scores)[first])
    q[1] = float(scores[first] - scores[order[1]]) if len(order) > 1 else 5.0
    q[2] = float(scores[first])
    q[5] = c.x[first, col["text_cov"]]
    q[6] = c.x[first, col["heading_cov"]]
    q[10] = q[3] + c.x[first, col["dense_gap"]]
    return q
