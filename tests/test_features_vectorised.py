"""The learned ranker's features computed over the whole candidate set at once (index/features.py) are the values the
straightforward one-candidate-at-a-time loop gave, bit for bit; the query's one MeCab pass gives the tokens, the
highlight terms and the predicate that separate passes gave; the vocabulary's precomputed order finds what sorting
on every call found."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from corpus.lawcite import find_law_citations
from corpus.textnorm import fold
from index.answer_line import lead_sentence
from index.features import RRF_K, RRF_WEIGHTS, Candidates, Retrieved, candidates
from index.rowfacts import RowFacts
from index.fusion import rrf_fusion
from index.predicate import predicate, predicate_of
from index.rerank import (FEATURES, asks_actor, asks_law, asks_list, asks_where, clause_cues, names_actor,
                          names_destination, query_cues, rr, safe_rel)
from index.tokenizer import Tokenizer, TokenizerConfig
from index.vocabulary import Vocabulary, default_vocabulary

QUERIES = [
    "学校保健安全法に基づく医療費援助はこの補助金の対象ですか",
    "オン資のシステム改修費の補助率は？",
    "ＰＭＨの導入経費 500万円 1/2 令和8年度",
    "申請はいつまでにすればいい？",
    "指定難病の支給認定はどこに申請する？",
    "自立支援医療の申請先って市町村？都道府県？",
    "対象となる事業の一覧",
    "法律の第5条の規定では",
    "補助金の上限額はいくら",
    "がいさんばらい",
    "Q&A 2-9",
    "ですか？",
    "令和7年度 拡大予定 自治体数 600",
    "2,000円 3.5 8",
]


def reference(query: str, r: Retrieved, rows, row_kind, is_parent, keyword, heading, lead,  # type: ignore[no-untyped-def]
              named_laws: frozenset[str] = frozenset(), passages=None) -> Candidates:
    """index.features.candidates as it was: one candidate at a time, every fact computed from the row itself.
    ``passages``: (the adapted query vector, every passage's vector, each passage's row), or None (no adapted
    features)."""
    rrf = rrf_fusion({"bm25": [row for row, _ in r.bm25], "dense": [row for row, _ in r.dense]},
                     k=RRF_K, weights=RRF_WEIGHTS)
    pool = list(dict.fromkeys([row for lst in (r.bm25, r.dense, r.heading, r.reading) for row, _ in lst]))
    pool_arr = np.asarray(pool, dtype=np.int64)
    lists = (("bm25", r.bm25), ("heading", r.heading), ("reading", r.reading), ("dense", r.dense))
    ranks = {name: {row: i for i, (row, _) in enumerate(lst, start=1)} for name, lst in lists}
    scores = {name: dict(lst) for name, lst in lists}
    tops = {name: (lst[0][1] if lst else 0.0) for name, lst in lists}
    dense_floor = min((s for _, s in r.dense), default=0.0)
    coverage, text_cov = keyword.coverage(r.tokens, pool_arr)
    _, head_cov = heading.coverage(r.tokens, pool_arr)
    _, lead_cov = lead.coverage(r.tokens, pool_arr)
    folded = fold(query)
    ask_amount, ask_date, numbers = query_cues(folded)
    asked = predicate(folded)
    col = {f: i for i, f in enumerate(FEATURES)}
    x = np.zeros((len(pool), len(FEATURES)))
    for i, row in enumerate(pool):
        c = rows[row]
        text = fold(f"{c.heading}\n{c.text}")
        amount, date = clause_cues(text)
        actor, destination = names_actor(text), names_destination(text)
        kind = c.kind
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
        x[i, col["kind_law"]] = row_kind[row] == "law"
        x[i, col["is_parent"]] = is_parent[row]
        x[i, col["cue_amount"]] = ask_amount and amount
        x[i, col["cue_date"]] = ask_date and date
        x[i, col["cue_list"]] = asks_list(folded) and is_parent[row]
        is_law = row_kind[row] == "law"
        x[i, col["law_named"]] = is_law and c.doc_id in named_laws
        x[i, col["law_cue"]] = is_law and asks_law(folded)
        x[i, col["cue_actor"]] = asks_actor(folded) and actor
        x[i, col["cue_where"]] = asks_where(folded) and destination
        x[i, col["predicate_match"]] = asked is not None and predicate(lead_sentence(c)) == asked
        if numbers:
            x[i, col["number_match"]] = sum(n in text for n in numbers) / len(numbers)
    if passages is not None and pool:
        moved, vectors, owner = passages
        cos = np.array([max((vectors[owner == row] @ moved).tolist(), default=-1.0) for row in pool], np.float32)
        x[:, col["adapted_gap"]] = cos - cos.max()
        x[:, col["adapted_rr"]] = [1.0 / (1 + int((cos > v).sum())) for v in cos]
    reading_top = (r.reading[0][1] / max(len(r.reading_tokens), 1)) if r.reading else 0.0
    unknown = sum(1 for t in set(r.tokens) if len(t) >= 2 and not len(keyword.postings(t)))
    qf = np.array([0.0, 0.0, 0.0, tops["dense"], coverage, 0.0, 0.0, reading_top, float(np.log1p(len(set(r.tokens)))),
                   float(np.log1p(unknown)), 0.0, tops["bm25"] / max(len(set(r.tokens)), 1)])
    return Candidates(pool, x, qf)


def _same(got: Candidates, want: Candidates) -> None:
    assert got.rows == want.rows
    assert got.x.shape == want.x.shape
    for j, name in enumerate(FEATURES):
        if name == "adapted_gap":  # inner products over a batch of passages or one row's: BLAS may round apart
            assert np.allclose(got.x[:, j], want.x[:, j], rtol=0, atol=1e-6), name
            continue
        assert np.array_equal(got.x[:, j], want.x[:, j], equal_nan=True), name
    assert np.array_equal(got.query, want.query, equal_nan=True)


def _check(searcher, facts: RowFacts, query: str, r: Retrieved, named: frozenset[str] = frozenset(),  # type: ignore[no-untyped-def]
           **kw) -> None:
    got = candidates(query, r, facts, searcher.keyword, searcher.heading, searcher.lead, named, **kw)
    want = reference(query, r, searcher.rows, facts.row_kind, facts.is_parent, searcher.keyword, searcher.heading,
                     searcher.lead, named)
    _same(got, want)


@pytest.mark.parametrize("query", QUERIES)
def test_features_equal_the_per_candidate_loop(searcher, query: str) -> None:  # type: ignore[no-untyped-def]
    r, cands, _ = searcher.retrieve(query)
    named = frozenset(c.law_id for c in find_law_citations(query, searcher.citations.law_names))
    dense = searcher.dense
    passages = (searcher.adapter.apply(r.vector), dense.index.reconstruct_n(0, dense.index.ntotal), dense.passage_rows)
    want = reference(query, r, searcher.rows, searcher._facts.row_kind, searcher._facts.is_parent, searcher.keyword,
                     searcher.heading, searcher.lead, named, passages)
    _same(cands, want)
    # a cold RowFacts (nothing learnt yet) and the query tagged here rather than by the caller: the same again
    _check(searcher, RowFacts(searcher.rows, searcher._facts.row_kind), query, r)


def test_features_on_made_up_retrievals(searcher) -> None:  # type: ignore[no-untyped-def]
    """Edge cases the corpus does not produce: NaN and non-positive tops, empty lists, rows only one retriever has,
    statutes named (rows marked as law here), all on a cold and then a warm RowFacts."""
    rng = random.Random(7)
    n = len(searcher.rows)
    docs = sorted({c.doc_id for c in searcher.rows})
    row_kind = np.array(["law" if c.doc_id == docs[0] else "qa" for c in searcher.rows], dtype=object)
    facts = RowFacts(searcher.rows, row_kind)

    def ranked(k: int, top: float, nan_at: int | None = None) -> list[tuple[int, float]]:
        rows = rng.sample(range(n), min(k, n))
        out = [(row, top * (1.0 - i / (k + 1))) for i, row in enumerate(rows)]
        if nan_at is not None and nan_at < len(out):
            out[nan_at] = (out[nan_at][0], math.nan)
        return out

    for query in QUERIES:
        tokens = Tokenizer().tokenize(query)
        cases = [
            Retrieved(tokens, ["ア"], ranked(50, 12.5), ranked(25, 3.0), ranked(25, 7.0), ranked(50, 0.83)),
            Retrieved(tokens, [], ranked(30, 9.0, nan_at=3), ranked(10, 0.0), [], []),
            Retrieved(tokens, [], [], [], ranked(5, -1.0), ranked(20, 0.5, nan_at=0)),
            Retrieved(tokens, [], [(3, math.nan), (5, 1.0)], [], [], []),
            Retrieved([], [], [], [], [], []),
        ]
        for r in cases:
            for named in (frozenset(), frozenset({docs[0]}), frozenset(docs[1:2])):
                _check(searcher, facts, query, r, named)


@pytest.mark.parametrize("query", QUERIES)
def test_one_tagging_pass_gives_tokens_terms_and_predicate(query: str) -> None:
    for config in (TokenizerConfig(), TokenizerConfig(bigrams=True), TokenizerConfig(lemmas=False, drop_stop=False,
                                                                                         number_phrases=False)):
        tok = Tokenizer(config)
        a = tok.analyse(query)
        assert a.tokens == tok.tokenize(query)
        assert a.terms == tok.terms_for_highlight(query)
    assert predicate_of(Tokenizer().analyse(query).words) == predicate(fold(query))


def _old_expansions(v: Vocabulary, query: str) -> list[str]:
    """Vocabulary.expansions as it was: every surface, sorted by length on each call."""
    q = fold(query)
    taken = [False] * len(q)
    found: list[tuple[int, str]] = []
    for surface in sorted(v.terms, key=len, reverse=True):
        start = q.find(surface)
        while start >= 0:
            end = start + len(surface)
            if not any(taken[start:end]):
                for i in range(start, end):
                    taken[i] = True
                found.append((start, surface))
            start = q.find(surface, end)
    used_official = {v.terms[s] for _, s in found if v.terms[s] == s or fold(v.terms[s]) == s}
    out: list[str] = []
    for _, surface in sorted(found):
        official = v.terms[surface]
        if fold(official) != surface and official not in used_official and official not in out:
            out.append(official)
    return out


def test_vocabulary_expansions_unchanged() -> None:
    v = default_vocabulary()
    rng = random.Random(3)
    surfaces = sorted(v.terms)
    queries = list(QUERIES)
    for _ in range(300):  # queries made of several variants and official terms, overlapping and glued together
        queries.append("の".join(rng.sample(surfaces, rng.randint(1, 4))) + rng.choice(["は？", "", "って何"]))
        s = rng.choice(surfaces)
        queries.append(s[: max(1, len(s) // 2)] + rng.choice(surfaces))
    for q in queries:
        assert v.expansions(q) == _old_expansions(v, q), q
