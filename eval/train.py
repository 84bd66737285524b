"""Fit the learned fusion and the confidence model by k-fold cross-validation, report cross-validated figures.

    python -m eval.train --data-dir var [--folds 5] [--write]

Questions: our own sets in eval/questions/ (in-corpus users.jsonl, out-of-corpus.jsonl; laws.jsonl when the index
holds statutes). Every figure printed is out-of-fold: each question is ranked and scored by models fitted without
it, and the L2 strength is chosen inside the training folds (nested), so nothing is reported on the questions it was
tuned on. ``--write`` then fits on all questions and writes index/data/ranker.json and confidence.json with the
cross-validated figures in their ``info``, and the query adapter (index/data/query_adapter.npy, index/adapter.py).
The adapter's two ranker features are cross-fitted: inside each training fold, each question's adapted cosines come
from an adapter fitted without it (as served, the adapter has not seen the question), and the held-out fold's from
the adapter fitted on the whole training fold. The dev questions (../shared/eval/dev.jsonl) are never used here: they
stay a separate check for ``regkb eval``.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from eval.learn import brier, fit_adapter, fit_listwise, fit_logistic, kfold, reliability
from eval.question_set import Question, load_questions, matches
from index.adapter import BUNDLED_ADAPTER, QueryAdapter, candidate_columns
from index.calibration import BUNDLED_MODEL as CONFIDENCE_PATH
from index.calibration import ConfidenceModel, sigmoid
from index.features import CONFIDENCE_FEATURES, confidence_vector
from index.rerank import BUNDLED_MODEL as RANKER_PATH
from index.rerank import FEATURES, RankerModel
from index.search import Searcher

log = logging.getLogger(__name__)

QUESTIONS = Path(__file__).parent / "questions"
L2_GRID = (0.001, 0.01, 0.1)
K = 10
# The adapter's fit (eval/learn.py fit_adapter), chosen in session 14 by 5-fold CV of the adapted cosine alone (dense
# R@1 over all clauses, out-of-fold: 0.504 unadapted, 0.547–0.569 over l2 1e-4–1e-2, temperature 0.01–0.05, 100–500
# steps), before any held-out set was run.
ADAPTER_FIT = {"l2": 0.01, "temperature": 0.01, "steps": 200}
ADAPTED = [FEATURES.index("adapted_gap"), FEATURES.index("adapted_rr")]


@dataclass
class Sample:
    q: Question
    source: str  # the question file
    style: str
    rows: list[int]
    x: np.ndarray
    y: np.ndarray          # relevance of each candidate
    qf: np.ndarray         # query features before the ranker's part
    cands: Any
    cited: list[tuple[str, str]]  # (doc, section) of clauses the query cites, leading the results
    row_ids: list[tuple[str, str]]
    vector: np.ndarray | None = None  # the query's e5 vector, before the adapter


@dataclass(frozen=True)
class Adapting:
    """What fitting the query adapter needs: every passage of the index and each question's expected passages."""

    searcher: Searcher
    passages: np.ndarray
    targets: dict[str, np.ndarray]  # question id -> bool over passages

    @classmethod
    def of(cls, searcher: Searcher, samples: list[Sample]) -> Adapting | None:
        dense = searcher.dense
        if dense is None or any(s.vector is None for s in samples):
            return None
        passages = dense.vectors(np.arange(dense.index.ntotal))
        owner = np.asarray(dense.passage_rows)
        targets = {}
        for s in samples:
            if not s.q.out_of_corpus:
                rows = [r for r, c in enumerate(searcher.rows) if any(matches(e, c.doc_id, c.section) for e in s.q.expected)]
                targets[s.q.id] = np.isin(owner, rows)
        return cls(searcher, passages, targets)

    def fit(self, train: list[Sample]) -> QueryAdapter:
        used = [s for s in train if s.q.id in self.targets]
        w = fit_adapter(np.stack([s.vector for s in used]), self.passages,  # type: ignore[misc]
                        np.stack([self.targets[s.q.id] for s in used]), **ADAPTER_FIT)
        return QueryAdapter(w, {"model": self.searcher.manifest["model"]["name"], "fit": ADAPTER_FIT,
                                "fitted_questions": len(used)})

    def apply(self, s: Sample, adapter: QueryAdapter) -> Sample:
        """``s`` with its adapted-cosine features recomputed under ``adapter``."""
        x = s.x.copy()
        if len(s.rows):
            cos = self.searcher.dense.row_cosines(adapter.apply(s.vector), np.asarray(s.rows))  # type: ignore[union-attr]
            x[:, ADAPTED[0]], x[:, ADAPTED[1]] = candidate_columns(cos)
        return replace(s, x=x)

    def cross_fit(self, train: list[Sample], folds: int) -> list[Sample]:
        """``train`` with each question's features from an adapter fitted without it."""
        out: list[Sample | None] = [None] * len(train)
        for idx in kfold(len(train), folds, seed=7):
            held = {int(i) for i in idx}
            adapter = self.fit([s for i, s in enumerate(train) if i not in held])
            for i in held:
                out[i] = self.apply(train[i], adapter)
        return out  # type: ignore[return-value]


def _style(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out[str(d["id"])] = str(d.get("style") or "-")
    return out


def collect(searcher: Searcher, files: list[Path]) -> list[Sample]:
    samples = []
    for path in files:
        styles = _style(path)
        for q in load_questions(path):
            r, cands, _ = searcher.retrieve(q.question)
            ids = [(searcher.rows[row].doc_id, searcher.rows[row].section) for row in cands.rows]
            y = np.array([any(matches(e, d, s) for e in q.expected) for d, s in ids], dtype=bool)
            cited = [(c.clause.doc_id, c.clause.section) for c in searcher.citations.find(q.question)]
            samples.append(Sample(q, path.stem, styles.get(q.id, "-"), cands.rows, cands.x, y, cands.query, cands, cited,
                                  ids, r.vector))
    return samples


def _ranking(s: Sample, scores: np.ndarray) -> tuple[list[tuple[str, str]], np.ndarray]:
    order = np.argsort(-scores, kind="stable")
    ranked = [s.row_ids[i] for i in order]
    lead = [c for c in s.cited]
    return (lead + [r for r in ranked if r not in lead])[:K], order


def _metrics(samples: list[Sample], rankings: dict[str, list[tuple[str, str]]]) -> dict[str, float]:
    r1 = r5 = mrr = 0.0
    n = 0
    for s in samples:
        if s.q.out_of_corpus:
            continue
        n += 1
        ranked = rankings[s.q.id]
        pos = next((i for i, (d, sec) in enumerate(ranked) if any(matches(e, d, sec) for e in s.q.expected)), None)
        if pos is not None:
            r1 += pos == 0
            r5 += pos < 5
            mrr += 1.0 / (pos + 1)
    return {"n": n, "R@1": r1 / max(n, 1), "R@5": r5 / max(n, 1), "MRR@10": mrr / max(n, 1)}


def _fit_ranker(train: list[Sample], l2: float) -> RankerModel:
    w, std = fit_listwise([(s.x, s.y) for s in train if not s.q.out_of_corpus], l2)
    return RankerModel(FEATURES, w, std.mean, std.scale, {"l2": l2})


def _choose_l2(train: list[Sample], folds: int) -> float:
    """Inner cross-validation on the training questions only: the L2 strength with the best MRR."""
    best, best_l2 = -1.0, L2_GRID[0]
    inner = kfold(len(train), folds, seed=7)
    for l2 in L2_GRID:
        rankings = {}
        for idx in inner:
            held = {int(i) for i in idx}
            model = _fit_ranker([s for i, s in enumerate(train) if i not in held], l2)
            for i in held:
                s = train[i]
                rankings[s.q.id] = _ranking(s, model.score(s.x))[0]
        mrr = _metrics(train, rankings)["MRR@10"]
        if mrr > best:
            best, best_l2 = mrr, l2
    return best_l2


def _confidence_rows(s: Sample, model: RankerModel) -> tuple[np.ndarray, bool]:
    scores = model.score(s.x)
    ranking, order = _ranking(s, scores)
    z = confidence_vector(s.cands, scores, order)
    right = (not s.q.out_of_corpus) and bool(ranking) and any(matches(e, *ranking[0]) for e in s.q.expected)
    return z, right


def _threshold(p: np.ndarray, answerable: np.ndarray) -> float:
    """The flag's threshold: the one that best separates answerable from out-of-corpus questions (mean of the two
    rates, the targets being ≥ 95 % and ≥ 90 %), among the training questions."""
    best, best_t = -1.0, 0.5
    for t in np.unique(np.concatenate([p, [0.5]])):
        a = (p[answerable] >= t).mean() if answerable.any() else 0.0
        o = (p[~answerable] < t).mean() if (~answerable).any() else 0.0
        score = min(a / 0.95, 1.0) + min(o / 0.90, 1.0) + 0.01 * (a + o)
        if score > best:
            best, best_t = score, float(t)
    return best_t


def cross_validate(samples: list[Sample], folds: int, adapting: Adapting | None = None) -> dict[str, Any]:
    """Out-of-fold rankings, probabilities and flags for every question (and out-of-fold query adapters, when
    ``adapting`` is given; without it the adapted features are taken as collected)."""
    outer = kfold(len(samples), folds)
    rankings: dict[str, list[tuple[str, str]]] = {}
    conf_z: dict[str, np.ndarray] = {}
    right: dict[str, bool] = {}
    chosen = []
    for idx in outer:
        held = {int(i) for i in idx}
        train = [s for i, s in enumerate(samples) if i not in held]
        adapter = None
        if adapting is not None:
            adapter = adapting.fit(train)
            train = adapting.cross_fit(train, folds)
        l2 = _choose_l2(train, folds)
        chosen.append(l2)
        model = _fit_ranker(train, l2)
        for i in held:
            s = samples[i] if adapter is None else adapting.apply(samples[i], adapter)  # type: ignore[union-attr]
            rankings[s.q.id] = _ranking(s, model.score(s.x))[0]
            conf_z[s.q.id], right[s.q.id] = _confidence_rows(s, model)
    # Confidence: a second cross-validation over the out-of-fold ranker features.
    prob: dict[str, float] = {}
    flag: dict[str, bool] = {}
    for idx in outer:
        held = {int(i) for i in idx}
        train = [s for i, s in enumerate(samples) if i not in held]
        cm = _fit_confidence(train, conf_z, right)
        for i in held:
            s = samples[i]
            p = cm.probability(conf_z[s.q.id])
            if s.cited:
                p = max(p, 0.99)
            prob[s.q.id] = p
            flag[s.q.id] = p >= cm.threshold
    return {"rankings": rankings, "prob": prob, "flag": flag, "right": right, "l2": chosen, "conf_z": conf_z}


def _fit_confidence(train: list[Sample], conf_z: dict[str, np.ndarray], right: dict[str, bool]) -> ConfidenceModel:
    x = np.vstack([conf_z[s.q.id] for s in train])
    y = np.array([right[s.q.id] for s in train])
    w, b, std = fit_logistic(x, y, 0.01)
    p = sigmoid(std(x) @ w + b)
    answerable = np.array([not s.q.out_of_corpus for s in train])
    t = _threshold(p, answerable)
    return ConfidenceModel(CONFIDENCE_FEATURES, w, b, std.mean, std.scale, t, t / 2, {})


def report(samples: list[Sample], cv: dict[str, Any]) -> dict[str, Any]:
    by_style: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_style["out-of-corpus: " + s.style if s.q.out_of_corpus else s.style].append(s)
    rows = {}
    for style, group in sorted(by_style.items()):
        m = _metrics(group, cv["rankings"]) if not group[0].q.out_of_corpus else {"n": len(group)}
        if group[0].q.out_of_corpus:
            m["not confident"] = sum(not cv["flag"][s.q.id] for s in group) / len(group)
        else:
            m["confident"] = sum(cv["flag"][s.q.id] for s in group) / len(group)
        rows[style] = m
    inside = [s for s in samples if not s.q.out_of_corpus]
    outside = [s for s in samples if s.q.out_of_corpus]
    overall = _metrics(samples, cv["rankings"])
    overall["confident"] = sum(cv["flag"][s.q.id] for s in inside) / max(len(inside), 1)
    overall["not confident (out of corpus)"] = sum(not cv["flag"][s.q.id] for s in outside) / max(len(outside), 1)
    p = np.array([cv["prob"][s.q.id] for s in samples])
    y = np.array([cv["right"][s.q.id] for s in samples])
    misses = []
    for s in inside:
        ranked = cv["rankings"][s.q.id]
        if not ranked or not any(matches(e, *ranked[0]) for e in s.q.expected):
            misses.append({"id": s.q.id, "style": s.style, "question": s.q.question,
                           "expected": [f"{e.doc} {e.section or ''}".strip() for e in s.q.expected],
                           "got": [f"{d} {sec}" for d, sec in ranked[:3]]})
    per_file = {}
    for source in dict.fromkeys(s.source for s in inside):
        group = [s for s in inside if s.source == source]
        per_file[source] = {**_metrics(group, cv["rankings"]),
                            "confident": sum(cv["flag"][s.q.id] for s in group) / len(group)}
    return {"overall": overall, "per_style": rows, "per_file": per_file, "brier": brier(p, y), "reliability": reliability(p, y),
            "l2_chosen": cv["l2"], "misses": misses,
            "false_confident": [s.q.question for s in outside if cv["flag"][s.q.id]],
            "unconfident_answerable": [s.q.id for s in inside if not cv["flag"][s.q.id]]}


def print_report(rep: dict[str, Any], title: str) -> None:
    print(f"\n## {title}")
    o = rep["overall"]
    print(f"overall (n={o['n']}): R@1 {o['R@1']:.3f}  R@5 {o['R@5']:.3f}  MRR@10 {o['MRR@10']:.3f}  "
          f"confident {o['confident']:.3f}  not-confident OOD {o['not confident (out of corpus)']:.3f}  "
          f"Brier {rep['brier']:.3f}")
    for source, m in rep["per_file"].items():
        print(f"  {source} (n={m['n']}): R@1 {m['R@1']:.3f}  R@5 {m['R@5']:.3f}  MRR@10 {m['MRR@10']:.3f}  "
              f"confident {m['confident']:.3f}")
    print("| style | n | R@1 | R@5 | MRR@10 | confident / not confident |")
    print("|---|---|---|---|---|---|")
    for style, m in rep["per_style"].items():
        if "R@1" in m:
            print(f"| {style} | {m['n']} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['MRR@10']:.3f} | {m['confident']:.3f} |")
        else:
            print(f"| {style} | {m['n']} | | | | {m['not confident']:.3f} |")


def fit_all(samples: list[Sample], folds: int, info: dict[str, Any],
            adapting: Adapting | None = None) -> tuple[RankerModel, ConfidenceModel, QueryAdapter | None]:
    adapter = None
    if adapting is not None:
        adapter = adapting.fit(samples)
        adapter = QueryAdapter(adapter.matrix, {**adapter.info, **info})
        samples = adapting.cross_fit(samples, folds)
    l2 = _choose_l2(samples, folds)
    model = _fit_ranker(samples, l2)
    model = RankerModel(model.features, model.weights, model.mean, model.scale,
                        {"name": "listwise-logit", "l2": l2, **info})
    # Confidence from out-of-fold ranker features (as served, the ranker has not seen the question).
    conf_z, right = {}, {}
    for idx in kfold(len(samples), folds):
        held = {int(i) for i in idx}
        m = _fit_ranker([s for i, s in enumerate(samples) if i not in held], l2)
        for i in held:
            conf_z[samples[i].q.id], right[samples[i].q.id] = _confidence_rows(samples[i], m)
    cm = _fit_confidence(samples, conf_z, right)
    cm = ConfidenceModel(cm.features, cm.weights, cm.bias, cm.mean, cm.scale, cm.threshold, cm.low,
                         {"name": "logistic", **info})
    return model, cm, adapter


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("var"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--laws", action="store_true", help="include eval/questions/laws.jsonl (index with statutes)")
    ap.add_argument("--write", action="store_true", help="fit on all questions and write the bundled models")
    ap.add_argument("--json", type=Path, help="write the cross-validated report here")
    args = ap.parse_args(argv)
    searcher = Searcher.load(args.data_dir)
    files = [QUESTIONS / "users.jsonl", QUESTIONS / "out-of-corpus.jsonl"]
    if args.laws:
        files.insert(1, QUESTIONS / "laws.jsonl")
    samples = collect(searcher, files)
    rrf_col = FEATURES.index("rrf")
    baseline = {s.q.id: _ranking(s, s.x[:, rrf_col])[0] for s in samples}
    b = _metrics(samples, baseline)
    print(f"baseline: weighted RRF (no training): R@1 {b['R@1']:.3f}  R@5 {b['R@5']:.3f}  MRR@10 {b['MRR@10']:.3f}")
    adapting = Adapting.of(searcher, samples)
    cv = cross_validate(samples, args.folds, adapting)
    rep = report(samples, cv)
    print_report(rep, f"learned fusion, {args.folds}-fold cross-validated, index {searcher.manifest['build_id']}")
    for m in rep["misses"]:
        print(f"  miss {m['id']} [{m['style']}] {m['question']} — expected {m['expected']}, got {m['got']}")
    print("  confident on out-of-corpus:", *rep["false_confident"], sep="\n    ")
    if args.json:
        args.json.write_text(json.dumps(rep, ensure_ascii=False, indent=1), "utf-8")
    if args.write:
        info = {"cv": {"folds": args.folds, "overall": rep["overall"], "brier": round(rep["brier"], 4),
                       "per_style": rep["per_style"], "reliability": rep["reliability"]},
                "questions": [f.name for f in files]}
        ranker, conf, adapter = fit_all(samples, args.folds, info, adapting)
        RANKER_PATH.write_text(json.dumps(ranker.to_json(), ensure_ascii=False, indent=1), "utf-8")
        CONFIDENCE_PATH.write_text(json.dumps(conf.to_json(), ensure_ascii=False, indent=1), "utf-8")
        if adapter is not None:
            adapter.save(BUNDLED_ADAPTER)
        print(f"wrote {RANKER_PATH}, {CONFIDENCE_PATH}" + (f" and {BUNDLED_ADAPTER}" if adapter is not None else ""))


if __name__ == "__main__":
    main()
