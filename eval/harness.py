"""`regkb eval`: run a question set through each mode, save the runs, print the metrics."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import evaluate
from eval.question_set import Question
from index.search import FusionConfig, Searcher


@dataclass(frozen=True, slots=True)
class ModeReport:
    mode: str
    metrics: dict[str, float]
    fusion: dict[str, Any]
    confident_in_corpus: int
    in_corpus: int
    not_confident_out_of_corpus: int
    out_of_corpus: int
    misses: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "metrics": self.metrics, "fusion": self.fusion,
                "confident_in_corpus": f"{self.confident_in_corpus}/{self.in_corpus}",
                "not_confident_out_of_corpus": f"{self.not_confident_out_of_corpus}/{self.out_of_corpus}",
                "misses": self.misses}


def run_questions(searcher: Searcher, questions: Sequence[Question], mode: str, k: int = 10,
                  fusion: FusionConfig | None = None) -> tuple[list[dict[str, Any]], dict[str, bool]]:
    """One run: [{"id", "probability", "confident", "hits": [{"doc", "section", "edition", "score"}…]}…] and
    id -> confident."""
    run, confident = [], {}
    for q in questions:
        result = searcher.search(q.question, k=k, mode=mode, fusion=fusion)  # type: ignore[arg-type]
        run.append({"id": q.id, "mode": mode, "fusion": result.fusion, "probability": result.probability,
                    "confident": result.confident,
                    "hits": [{"doc": h.doc, "section": h.section, "edition": h.edition, "score": h.score}
                             for h in result.hits]})
        confident[q.id] = result.confident
    return run, confident


def per_style(questions: Sequence[Question], run: list[dict[str, Any]], confident: dict[str, bool]
              ) -> dict[str, dict[str, float]]:
    """Metrics per question style (and, for out-of-corpus questions, the share not called confident)."""
    by_id = {r["id"]: r["hits"] for r in run}
    groups: dict[str, list[Question]] = {}
    for q in questions:
        key = ("out-of-corpus: " if q.out_of_corpus else "") + (q.style or "-")
        groups.setdefault(key, []).append(q)
    out = {}
    for key, qs in sorted(groups.items()):
        if qs[0].out_of_corpus:
            out[key] = {"n": len(qs), "not_confident": sum(not confident[q.id] for q in qs) / len(qs)}
        else:
            out[key] = {"n": len(qs), **evaluate(qs, by_id),
                        "confident": sum(confident[q.id] for q in qs) / len(qs)}
    return out


def save_run(path: Path, run: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in run), "utf-8")


def load_run(path: Path) -> dict[str, list[dict[str, Any]]]:
    return {r["id"]: r["hits"] for r in map(json.loads, Path(path).read_text("utf-8").splitlines()) if r}


def report(questions: Sequence[Question], run: list[dict[str, Any]], confident: dict[str, bool], mode: str,
           fusion: dict[str, Any]) -> ModeReport:
    by_id = {r["id"]: r["hits"] for r in run}
    metrics = evaluate(questions, by_id)
    inside = [q for q in questions if not q.out_of_corpus]
    outside = [q for q in questions if q.out_of_corpus]
    misses = []
    for q in inside:
        top = by_id[q.id][:1]
        from eval.question_set import matches

        if not top or not any(matches(e, top[0]["doc"], top[0]["section"]) for e in q.expected):
            misses.append({"id": q.id, "question": q.question,
                           "expected": [f"{e.doc} {e.section or ''}".strip() for e in q.expected],
                           "got": [f"{h['doc']} {h['section']}" for h in by_id[q.id][:3]]})
    return ModeReport(mode, metrics, fusion, sum(confident[q.id] for q in inside), len(inside),
                      sum(not confident[q.id] for q in outside), len(outside), misses)


def calibration_text(questions: Sequence[Question], run: list[dict[str, Any]], confident: dict[str, bool],
                     png: Path) -> tuple[str, Path]:
    """Per-style table, Brier score and reliability table of one run, and its reliability diagram written to ``png``."""
    from eval.calibration_report import calibrate, plot

    lines = ["", "| style | n | R@1 | R@5 | MRR@10 | confident (answerable) / not confident (out of corpus) |",
             "|---|---|---|---|---|---|"]
    for style, m in per_style(questions, run, confident).items():
        if "recall@1" in m:
            lines.append(f"| {style} | {m['n']} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} | "
                         f"{m['confident']:.3f} |")
        else:
            lines.append(f"| {style} | {m['n']} | | | | {m['not_confident']:.3f} |")
    by_id = {r["id"]: r["hits"] for r in run}
    cal = calibrate(questions, by_id, {r["id"]: float(r.get("probability", 0.0)) for r in run}, confident)
    lines += ["", f"calibration: Brier {cal.brier:.3f} over {cal.n} questions; confident on answerable "
              f"{cal.confident_answerable:.3f}, not confident on out-of-corpus {cal.not_confident_out_of_corpus:.3f}",
              "| predicted | observed | n |", "|---|---|---|"]
    lines += [f"| {b['predicted']:.2f} | {b['observed']:.2f} | {b['count']} |" for b in cal.bins]
    return "\n".join(lines), plot(cal, png, "regkb hybrid: P(first result is right)")
