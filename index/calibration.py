"""Confidence as a calibrated probability: P(the first result governs the question), from a logistic model over
query-level features (index/features.py CONFIDENCE_FEATURES), fitted with out-of-fold ranker scores in
eval/train.py on our own in-corpus and out-of-corpus questions (half of them near misses).

The flag ``confident`` is ``probability ≥ threshold``; below ``low`` the page says the documents do not cover the
question, in between it asks staff to check the clauses shown. Both thresholds are chosen by cross-validation and
stored with the model; Brier score and a reliability table are in the JSON's ``info``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BUNDLED_MODEL = Path(__file__).parent / "data" / "confidence.json"


def sigmoid(z: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


@dataclass(frozen=True, slots=True)
class ConfidenceModel:
    features: tuple[str, ...]
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    threshold: float
    low: float
    info: dict[str, object]

    def probability(self, z: np.ndarray) -> float:
        return float(sigmoid(((z - self.mean) / self.scale) @ self.weights + self.bias))

    def verdict(self, p: float) -> str:
        return "answer" if p >= self.threshold else ("check" if p >= self.low else "out_of_scope")

    def to_json(self) -> dict[str, object]:
        r = lambda a: [round(float(v), 6) for v in a]  # noqa: E731
        return {"features": list(self.features), "weights": r(self.weights), "bias": round(self.bias, 6),
                "mean": r(self.mean), "scale": r(self.scale), "threshold": round(self.threshold, 4),
                "low": round(self.low, 4), "info": self.info}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> ConfidenceModel:
        return cls(tuple(d["features"]), np.asarray(d["weights"], float), float(d["bias"]),  # type: ignore[arg-type]
                   np.asarray(d["mean"], float), np.asarray(d["scale"], float),  # type: ignore[arg-type]
                   float(d["threshold"]), float(d["low"]), dict(d.get("info") or {}))  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path = BUNDLED_MODEL) -> ConfidenceModel:
        return cls.from_json(json.loads(Path(path).read_text("utf-8")))
