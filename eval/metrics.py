"""R@k, MRR@10 and nDCG@10 via ranx (Bassani, "ranx: A Blazing-Fast Python Library for Ranking Evaluation and
Comparison", ECIR 2022).

A question's expected entries are alternatives (「4(2)ア or 4(2)」): whichever is found first is the one relevant
item. Each hit is relabelled "relevant" if it matches any expected entry — only its first occurrence counts, later
matches are ordinary misses — so recall@k is "the governing clause is in the top k".
"""

from __future__ import annotations

from collections.abc import Sequence

from eval.question_set import Question, matches

METRICS = ("recall@1", "recall@5", "mrr@10", "ndcg@10")
LABELS = {"recall@1": "R@1", "recall@5": "R@5", "mrr@10": "MRR@10", "ndcg@10": "nDCG@10"}


def relabel(questions: Sequence[Question], runs: dict[str, list[dict[str, object]]]
            ) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """ranx qrels and run for the in-corpus questions, hits relabelled as described above."""
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in questions:
        if q.out_of_corpus:
            continue
        qrels[q.id] = {"relevant": 1}
        scored: dict[str, float] = {}
        found = False
        hits = runs.get(q.id, [])
        for rank, h in enumerate(hits):
            is_match = any(matches(e, str(h["doc"]), str(h["section"])) for e in q.expected)
            label = "relevant" if is_match and not found else f"{h['doc']}#{h['section']}#{rank}"
            found = found or is_match
            # ranx ranks by score; rank-derived scores keep the run's order exactly, ties included.
            scored[label] = float(len(hits) - rank)
        run[q.id] = scored or {"(none)": 0.0}
    return qrels, run


def evaluate(questions: Sequence[Question], runs: dict[str, list[dict[str, object]]]) -> dict[str, float]:
    """``runs``: question id -> hits [{doc, section, score}…] best first. Out-of-corpus questions are skipped."""
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    qrels, run = relabel(questions, runs)
    if not qrels:
        return {m: 0.0 for m in METRICS}
    result = ranx_evaluate(Qrels(qrels), Run(run), list(METRICS), make_comparable=True)
    return {m: float(result[m]) for m in METRICS}
