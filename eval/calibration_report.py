"""Calibration of `confident`/`probability` on a question set: Brier score, reliability table and a reliability
diagram (PNG), and the flag's rates on answerable and out-of-corpus questions.

The outcome is "the first result governs the question" (an out-of-corpus question never has a right first result).
Reliability diagram: DeGroot & Fienberg, "The Comparison and Evaluation of Forecasters" (1983); Brier (1950).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.learn import brier, reliability
from eval.question_set import Question, matches


@dataclass(frozen=True, slots=True)
class Calibration:
    brier: float
    bins: list[dict[str, float]]
    confident_answerable: float
    not_confident_out_of_corpus: float
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"brier": round(self.brier, 4), "bins": self.bins, "n": self.n,
                "confident_answerable": round(self.confident_answerable, 3),
                "not_confident_out_of_corpus": round(self.not_confident_out_of_corpus, 3)}


def outcomes(questions: Sequence[Question], run: dict[str, list[dict[str, Any]]]) -> np.ndarray:
    out = []
    for q in questions:
        top = run.get(q.id, [])[:1]
        out.append(bool(top) and not q.out_of_corpus
                   and any(matches(e, str(top[0]["doc"]), str(top[0]["section"])) for e in q.expected))
    return np.array(out, dtype=bool)


def calibrate(questions: Sequence[Question], run: dict[str, list[dict[str, Any]]], probability: dict[str, float],
              confident: dict[str, bool]) -> Calibration:
    p = np.array([probability.get(q.id, 0.0) for q in questions])
    y = outcomes(questions, run)
    inside = [q for q in questions if not q.out_of_corpus]
    outside = [q for q in questions if q.out_of_corpus]
    return Calibration(brier(p, y), reliability(p, y),
                       sum(confident[q.id] for q in inside) / max(len(inside), 1),
                       sum(not confident[q.id] for q in outside) / max(len(outside), 1), len(questions))


def plot(cal: Calibration, path: Path, title: str) -> Path:
    """Write the reliability diagram; the Agg canvas is used directly, so no global matplotlib state changes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 4.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], linestyle="--", color="#888888", label="perfect calibration")
    xs = [b["predicted"] for b in cal.bins]
    ys = [b["observed"] for b in cal.bins]
    sizes = [20 + 8 * b["count"] for b in cal.bins]
    ax.plot(xs, ys, color="#1f5f8b", marker="o", label="regkb")
    ax.scatter(xs, ys, s=sizes, color="#1f5f8b", alpha=0.35)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability (first result is right)")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"{title}\nBrier {cal.brier:.3f}, n={cal.n}", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
