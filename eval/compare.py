"""Compare saved runs on one question set: metrics side by side with a paired significance test (ranx.compare,
Student's paired t-test), so any two systems — two modes, two builds, two fusion settings — can be compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.harness import load_run
from eval.metrics import METRICS, relabel
from eval.question_set import Question


def compare_runs(questions: list[Question], runs: dict[str, Path]) -> Any:
    from ranx import Qrels, Run, compare

    qrels_dict: dict[str, dict[str, int]] = {}
    ranx_runs = []
    for name, path in runs.items():
        qrels, run = relabel(questions, load_run(path))
        qrels_dict = qrels
        ranx_runs.append(Run(run, name=name))
    return compare(qrels=Qrels(qrels_dict), runs=ranx_runs, metrics=list(METRICS), max_p=0.05, make_comparable=True)
