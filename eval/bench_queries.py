"""Benchmark queries: the dev and out-of-corpus questions and distinct perturbations of them, handed out so that no
query is timed twice (the query-embedding cache must never answer)."""

from __future__ import annotations

import random
import re

from eval.bench_common import DEV, OOD
from eval.bench_corpus import MUNICIPALITIES


def base_questions() -> list[str]:
    from eval.question_set import load_questions

    qs = [q.question for q in load_questions(DEV)]
    if OOD.exists():
        qs += [q.question for q in load_questions(OOD)]
    return qs


def distinct_queries(n: int, seed: int = 3) -> list[str]:
    """Dev (and out-of-corpus) questions and perturbations of them, all distinct: municipality prefixes and suffixes,
    swapped numbers, halves of two questions spliced, a phrase dropped."""
    rng = random.Random(seed)
    base = base_questions()
    out: dict[str, None] = dict.fromkeys(base)
    cut = re.compile(r"(?<=[はのをにがでと、])")

    def perturb(q: str) -> str:
        r = rng.random()
        muni = rng.choice(MUNICIPALITIES)
        if r < 0.2:
            return f"{muni}では、{q}"
        if r < 0.35:
            return f"{q}（{muni}の場合）"
        if r < 0.5 and re.search(r"\d", q):
            return re.sub(r"\d+", lambda m: str(rng.randint(1, 10 ** len(m.group()) - 1)), q)
        if r < 0.8:
            other = rng.choice(base)
            a = [p for p in cut.split(q) if p]
            b = [p for p in cut.split(other) if p]
            if len(a) > 1 and len(b) > 1:
                return "".join(a[: max(1, len(a) // 2)] + b[len(b) // 2:])
            return f"{q} {muni}"
        parts = [p for p in cut.split(q) if p]
        if len(parts) > 2:
            del parts[rng.randrange(len(parts))]
            return "".join(parts)
        return f"{muni}の{q}"

    guard = 0
    while len(out) < n and guard < n * 50:
        guard += 1
        q = perturb(rng.choice(list(out)[: max(len(base), len(out))]))
        if 2 <= len(q) <= 200:
            out.setdefault(q, None)
    qs = list(out)
    head, tail = qs[: len(base)], qs[len(base):]
    rng.shuffle(tail)
    return head + tail


class QueryPool:
    def __init__(self, queries: list[str]) -> None:
        self.queries = queries
        self.pos = 0

    def take(self, n: int) -> list[str]:
        if self.pos + n > len(self.queries):
            self.pos = 0  # wrapped: only happens with tiny pools
        out = self.queries[self.pos:self.pos + n]
        self.pos += n
        return out

