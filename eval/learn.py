"""Fitting the two small models regkb ships: the listwise ranker and the logistic confidence model.

Both are L2-regularised and fitted with L-BFGS (scipy). Features are standardised on the training questions; the
standardisation travels with the weights. Pure functions over arrays: eval/train.py does the folds.

- Ranker: conditional logit / ListNet top-one (Cao et al., ICML 2007): for each question, softmax over its candidate
  clauses' scores w·x, maximise the probability of the relevant candidates (several alternatives share the mass).
  Questions whose candidates hold no relevant clause carry no signal and are left out.
- Confidence: logistic regression (Platt-style calibration over several features) on whether the first result is
  right; out-of-corpus questions count as "not right".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize


@dataclass(frozen=True, slots=True)
class Standardiser:
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        return cls(mean, scale)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale


def fit_listwise(groups: Sequence[tuple[np.ndarray, np.ndarray]], l2: float) -> tuple[np.ndarray, Standardiser]:
    """``groups``: per question (candidate features n×F, relevance 0/1 of length n). Returns (w, standardiser)."""
    usable = [(x, y) for x, y in groups if len(y) and y.any()]
    if not usable:
        raise ValueError("no question has a relevant candidate")
    std = Standardiser.fit(np.vstack([x for x, _ in usable]))
    xs = [std(x) for x, _ in usable]
    ys = [y.astype(float) / y.sum() for _, y in usable]
    dim = xs[0].shape[1]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros(dim)
        for x, y in zip(xs, ys):
            s = x @ w
            m = s.max()
            p = np.exp(s - m)
            z = p.sum()
            p /= z
            total -= float(y @ (s - m - np.log(z)))
            grad -= x.T @ (y - p)
        n = len(xs)
        return total / n + l2 * float(w @ w), grad / n + 2 * l2 * w

    res = minimize(loss, np.zeros(dim), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x, std


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float, Standardiser]:
    """Binary logistic regression; the bias is not regularised. Returns (w, b, standardiser)."""
    std = Standardiser.fit(x)
    xs = std(x)
    yf = y.astype(float)
    dim = xs.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:dim], theta[dim]
        z = xs @ w + b
        # log(1 + e^z) - y z, computed stably
        ll = np.logaddexp(0.0, z) - yf * z
        p = 1.0 / (1.0 + np.exp(-z))
        g = p - yf
        n = len(yf)
        return float(ll.mean() + l2 * w @ w), np.concatenate([xs.T @ g / n + 2 * l2 * w, [g.mean()]])

    res = minimize(loss, np.zeros(dim + 1), jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return res.x[:dim], float(res.x[dim]), std


def fit_adapter(queries: np.ndarray, passages: np.ndarray, targets: np.ndarray, l2: float, temperature: float,
                steps: int, lr: float = 1e-3) -> np.ndarray:
    """The query adapter's W (index/adapter.py: q' = normalise(q + q W)) for ``queries`` (n×d, unit vectors) against
    every passage (m×d); ``targets`` (n×m, bool) marks each question's expected passages. Loss: the softmax over all
    passages at ``temperature`` (InfoNCE, van den Oord et al. 2018; e5's own training objective) with the targets
    sharing the mass, plus l2·‖W‖². Full-batch Adam from W = 0 (the identity), so the fit is deterministic."""
    import torch  # training only: the search applies W with numpy

    keep = targets.any(axis=1)
    if not keep.any():
        raise ValueError("no question has an expected passage")
    q = torch.from_numpy(np.ascontiguousarray(queries[keep], dtype=np.float32))
    p = torch.from_numpy(np.ascontiguousarray(passages, dtype=np.float32))
    mask = torch.from_numpy(targets[keep])
    w = torch.zeros(q.shape[1], q.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        moved = torch.nn.functional.normalize(q + q @ w, dim=1)
        logits = moved @ p.T / temperature
        nll = torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~mask, -1e9), 1)
        loss = nll.mean() + l2 * (w * w).sum()
        loss.backward()
        opt.step()
    return w.detach().numpy().astype(np.float32)


def kfold(n: int, k: int, seed: int = 13) -> list[np.ndarray]:
    """Indices of ``k`` folds over ``n`` items, shuffled once with a fixed seed (reproducible)."""
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Brier (1950): mean squared difference between the probability and the 0/1 outcome."""
    return float(np.mean((p - y.astype(float)) ** 2)) if len(p) else 0.0


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per probability bin: mean predicted probability, observed frequency, count (a reliability diagram's data)."""
    out = []
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (p >= lo) & ((p < hi) | (hi == 1.0))
        if sel.any():
            out.append({"lo": round(float(lo), 2), "hi": round(float(hi), 2), "predicted": round(float(p[sel].mean()), 3),
                        "observed": round(float(y[sel].mean()), 3), "count": int(sel.sum())})
    return out
