"""Which old unit becomes which new one: equal texts first, then the best one-to-one pairing of similar ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from corpus.diff.similarity import ACCEPT, Unit, chance_levels, score

TIE_BREAK = 1e-6  # far below any real score difference; only decides between equal scores


@dataclass(frozen=True, slots=True)
class Pair:
    old: int  # index among the old edition's units
    new: int  # index among the new edition's units
    raw: float  # raw similarity (1.0 for an exact pair)
    exact: bool  # paired by equal normalised text


def hungarian(cost: Sequence[Sequence[float]]) -> list[int]:
    """Minimum-cost assignment of the rows of ``cost`` to its columns: for each row, its column (-1: none, when
    there are more rows than columns). scipy's ``linear_sum_assignment``, imported here because the rest of the
    data layer needs nothing beyond the standard library."""
    if not cost or not cost[0]:
        return [-1] * len(cost)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    assigned = [-1] * len(cost)
    for r, c in zip(rows.tolist(), cols.tolist()):
        assigned[r] = c
    return assigned


def _max_weight_matching(profit: list[list[float]]) -> list[tuple[int, int]]:
    """Pairs (row, col) of a one-to-one assignment maximising total profit; zero-profit pairs are dropped."""
    assigned = hungarian([[-p for p in row] for row in profit])
    return sorted((r, c) for r, c in enumerate(assigned) if c >= 0 and profit[r][c] > 0)


def align(olds: list[Unit], news: list[Unit]) -> list[Pair]:
    """The pairs of old and new units: exact ones, then the best admissible pairing of the rest."""
    pairs: list[Pair] = []
    # 1. Exact pass; equal texts are paired in document order.
    by_key: dict[str, list[int]] = {}
    for i, u in enumerate(olds):
        by_key.setdefault(u.key, []).append(i)
    taken_old: set[int] = set()
    taken_new: set[int] = set()
    for j, u in enumerate(news):
        queue = by_key.get(u.key)
        if queue:
            i = queue.pop(0)
            pairs.append(Pair(i, j, 1.0, True))
            taken_old.add(i)
            taken_new.add(j)
    rest_old = [i for i in range(len(olds)) if i not in taken_old]
    rest_new = [j for j in range(len(news)) if j not in taken_new]
    if not rest_old or not rest_new:
        return pairs
    # 2. Chance-corrected scores, thresholded, then the optimal one-to-one assignment.
    chance = chance_levels([olds, news])
    profit: list[list[float]] = []
    raws: dict[tuple[int, int], float] = {}
    for i in rest_old:
        row = []
        for j in rest_new:
            corrected, raw = score(olds[i], news[j], chance)
            if corrected >= ACCEPT:
                # The gain of pairing over leaving both unmatched; kept > 0 so that a pair at exactly ACCEPT counts.
                raws[i, j] = raw
                row.append(corrected - ACCEPT + TIE_BREAK * (2.0 - abs(olds[i].pos - news[j].pos)))
            else:
                row.append(0.0)
        profit.append(row)
    for r, c in _max_weight_matching(profit):
        i, j = rest_old[r], rest_new[c]
        pairs.append(Pair(i, j, raws[i, j], False))
    return pairs
