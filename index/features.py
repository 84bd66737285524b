"""Feature vectors for the learned fusion (index/rerank.py) and the confidence model (index/calibration.py).

One job: turn what the retrievers returned for a query into numbers — per candidate clause (FEATURES in rerank.py)
and per query (CONFIDENCE_FEATURES). Shared by the search and by the training in eval/train.py, so the model is
trained on exactly the features it is served with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from corpus.model import Clause
from corpus.textnorm import fold
from index.fusion import rrf_fusion
from index.answer_line import lead_sentence
from index.keyword import KeywordBackend
from index.predicate import predicate
from index.rerank import (FEATURES, asks_actor, asks_law, asks_list, asks_where, clause_cues, names_actor,
                          names_destination, query_cues, rr, safe_rel, softmax)

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


@dataclass(frozen=True, slots=True)
class Candidates:
    rows: list[int]
    x: np.ndarray              # len(rows) x len(FEATURES)
    query: np.ndarray          # CONFIDENCE_FEATURES without the ranker's part (filled in by ``confidence_vector``)


class RowFacts:
    """Per-row facts the features need, computed on first use and kept (a build never changes)."""

    def __init__(self, rows: Sequence[Clause], row_kind: np.ndarray, is_parent: np.ndarray | None = None) -> None:
        """``is_parent``: computed from ``rows`` when not given (the searcher gives it: reading every row's clause
        at load is what index/clausefile.py avoids)."""
        self.rows = rows
        self.row_kind = row_kind
        if is_parent is None:
            parents = {(c.doc_id, c.edition, c.parent) for c in rows if c.parent}
            is_parent = np.array([(c.doc_id, c.edition, c.section) in parents for c in rows], dtype=bool)
        self.is_parent = is_parent
        # (states an amount, a date, an authority, a procedure's destination) per row; the folded text itself is not kept, so the cache stays
        # a few booleans per row however many rows queries touch
        self._cues: dict[int, tuple[bool, bool, bool, bool]] = {}
        self._predicates: dict[int, str | None] = {}

    def text(self, row: int) -> str:
        c = self.rows[row]
        return fold(f"{c.heading}\n{c.text}")

    def cues(self, row: int) -> tuple[bool, bool, bool, bool]:
        got = self._cues.get(row)
        if got is None:
            text = self.text(row)
            got = self._cues[row] = (*clause_cues(text), names_actor(text), names_destination(text))
        return got


    def predicate(self, row: int) -> str | None:
        if row not in self._predicates:
            self._predicates[row] = predicate(lead_sentence(self.rows[row]))
        return self._predicates[row]


def candidates(query: str, r: Retrieved, facts: RowFacts, keyword: KeywordBackend,
               heading: KeywordBackend, lead: KeywordBackend, named_laws: frozenset[str] = frozenset()) -> Candidates:
    """``named_laws``: ids of the statutes the query names (by title or short name)."""
    rrf = rrf_fusion({"bm25": [row for row, _ in r.bm25], "dense": [row for row, _ in r.dense]},
                     k=RRF_K, weights=RRF_WEIGHTS)
    pool = list(dict.fromkeys([row for lst in (r.bm25, r.dense, r.heading, r.reading) for row, _ in lst]))
    pool_arr = np.asarray(pool, dtype=np.int64)
    ranks = {name: {row: i for i, (row, _) in enumerate(lst, start=1)}
             for name, lst in (("bm25", r.bm25), ("heading", r.heading), ("reading", r.reading), ("dense", r.dense))}
    scores = {name: dict(lst) for name, lst in (("bm25", r.bm25), ("heading", r.heading), ("reading", r.reading),
                                                ("dense", r.dense))}
    tops = {name: (lst[0][1] if lst else 0.0) for name, lst in (("bm25", r.bm25), ("heading", r.heading),
                                                                ("reading", r.reading), ("dense", r.dense))}
    dense_floor = min((s for _, s in r.dense), default=0.0)
    coverage, text_cov = keyword.coverage(r.tokens, pool_arr)
    _, head_cov = heading.coverage(r.tokens, pool_arr)
    _, lead_cov = lead.coverage(r.tokens, pool_arr)
    folded = fold(query)
    ask_amount, ask_date, numbers = query_cues(folded)
    ask_list = asks_list(folded)
    ask_law = asks_law(folded)
    ask_actor = asks_actor(folded)
    ask_where = asks_where(folded)
    asked = predicate(folded)
    col = {f: i for i, f in enumerate(FEATURES)}
    x = np.zeros((len(pool), len(FEATURES)))
    for i, row in enumerate(pool):
        amount, date, actor, destination = facts.cues(row)
        kind = facts.rows[row].kind
        x[i, col["rrf"]] = rrf.get(row, 0.0) * RRF_K
        for name in ("bm25", "heading", "reading"):
            x[i, col[f"{name}_rel"]] = safe_rel(scores[name].get(row), tops[name])
            x[i, col[f"{name}_rr"]] = rr(ranks[name].get(row))
        x[i, col["dense_gap"]] = scores["dense"].get(row, dense_floor) - tops["dense"] if r.dense else 0.0
        x[i, col["dense_rr"]] = rr(ranks["dense"].get(row))
        x[i, col["text_cov"]] = text_cov[i]
        x[i, col["heading_cov"]] = head_cov[i]
        x[i, col["lead_cov"]] = lead_cov[i]
        x[i, col["kind_item"]] = kind == "item"
        x[i, col["kind_clause"]] = kind == "clause"
        x[i, col["kind_page"]] = kind == "page"
        x[i, col["kind_law"]] = facts.row_kind[row] == "law"
        x[i, col["is_parent"]] = facts.is_parent[row]
        x[i, col["cue_amount"]] = ask_amount and amount
        x[i, col["cue_date"]] = ask_date and date
        x[i, col["cue_list"]] = ask_list and facts.is_parent[row]
        is_law = facts.row_kind[row] == "law"
        x[i, col["law_named"]] = is_law and facts.rows[row].doc_id in named_laws
        x[i, col["law_cue"]] = is_law and ask_law
        x[i, col["cue_actor"]] = ask_actor and actor
        x[i, col["cue_where"]] = ask_where and destination
        x[i, col["predicate_match"]] = asked is not None and facts.predicate(row) == asked
        if numbers:
            text = facts.text(row)
            x[i, col["number_match"]] = sum(n in text for n in numbers) / len(numbers)
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
