"""How alike two units are: normalised texts, bigram Dice per component, rescaled against the document's chance level."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, islice

from corpus.model import Clause, ParsedDocument
from corpus.textnorm import fold

QUESTION_WEIGHT = 2 / 3  # > ACCEPT: an identical question alone makes a match
ANSWER_WEIGHT = 1 / 3  # < ACCEPT: an identical (boilerplate) answer alone does not
ACCEPT = 0.5  # on the chance-corrected scale: halfway between "unrelated" (0) and "identical" (1)
MAX_CHANCE_PAIRS = 2000  # enough pairs for a stable median, bounded cost on long documents

_SPACE = re.compile(r"\s+")
# A 要綱 clause's text starts with its own number ("１ 目的", "第3条 …"); that is the section id, not content.
_LEADING_LABEL = re.compile(r"^(?:第?[0-9]+[条章節項]?|\([0-9]+\)|[①-⑳])\s+")


def normalize(text: str) -> str:
    """The comparison form of a text: folded (NFKC, look-alikes repaired, lower case) with all whitespace removed."""
    return _SPACE.sub("", fold(text))


def _content(clause: Clause) -> str:
    """The unit's text without its own number, for comparison."""
    t = fold(clause.text)
    if clause.kind == "clause":
        t = _LEADING_LABEL.sub("", t.lstrip(), count=1)
    return _SPACE.sub("", t)


def _bigrams(s: str) -> Counter[str]:
    # Single characters stand in for bigrams in one-character strings, so "甲" vs "乙" is 0, not undefined.
    if len(s) < 2:
        return Counter(s)
    return Counter(s[i : i + 2] for i in range(len(s) - 1))


def _dice(a: Counter[str], b: Counter[str], na: int, nb: int) -> float:
    """Dice coefficient of two multisets: 2|A ∩ B| / (|A| + |B|); two empty texts are identical."""
    if na + nb == 0:
        return 1.0
    if len(a) > len(b):
        a, b = b, a
    common = sum(min(n, b[g]) for g, n in a.items() if g in b)
    return 2 * common / (na + nb)


@dataclass(frozen=True, slots=True)
class Unit:
    """A citable unit prepared for comparison."""

    clause: Clause
    pos: float  # relative position in its edition, 0..1, for the order tie-break
    key: str  # normalised content, for the exact pass
    parts: tuple[tuple[Counter[str], int], ...]  # (question, answer) bigrams for Q&A items, else (text,)


def _unit(clause: Clause, pos: float) -> Unit:
    if clause.answer is not None:
        texts = [normalize(clause.heading), normalize(clause.answer)]
    else:
        texts = [_content(clause)]
    parts = tuple((bg, sum(bg.values())) for bg in map(_bigrams, texts))
    return Unit(clause, pos, _content(clause), parts)


def units(doc: ParsedDocument, kinds: Sequence[str]) -> list[Unit]:
    """The document's clauses of the given kinds, in order, ready for comparison."""
    clauses = [c for c in doc.clauses if c.kind in kinds]
    n = max(len(clauses) - 1, 1)
    return [_unit(c, i / n) for i, c in enumerate(clauses)]


def _weights(layout: int) -> tuple[float, ...]:
    return (QUESTION_WEIGHT, ANSWER_WEIGHT) if layout == 2 else (1.0,)


def _component_sims(a: Unit, b: Unit) -> tuple[tuple[float, ...], int]:
    """Per-component similarities and the layout they follow (2: question/answer, 1: whole text)."""
    if len(a.parts) == len(b.parts):
        return tuple(_dice(x, y, nx, ny) for (x, nx), (y, ny) in zip(a.parts, b.parts, strict=True)), len(a.parts)
    # An item compared with a non-item (never within one document kind): fall back to the whole text.
    whole_a, whole_b = _bigrams(a.key), _bigrams(b.key)
    return (_dice(whole_a, whole_b, sum(whole_a.values()), sum(whole_b.values())),), 1


def chance_levels(editions: Sequence[Sequence[Unit]]) -> dict[int, tuple[float, ...]]:
    """Median similarity between *distinct* units of the same edition, per layout and component.

    Distinct units of one edition are different items by construction, so their similarity is what an unrelated
    pair looks like in this document. At most ``MAX_CHANCE_PAIRS`` pairs are used, taken at an even stride.
    """
    samples: dict[int, list[tuple[float, ...]]] = {}
    budget = MAX_CHANCE_PAIRS // max(1, len(editions))
    for group in editions:
        n_pairs = len(group) * (len(group) - 1) // 2
        for a, b in islice(combinations(group, 2), 0, None, max(1, n_pairs // budget)):
            sims, layout = _component_sims(a, b)
            samples.setdefault(layout, []).append(sims)
    return {
        layout: tuple(statistics.median(col) for col in zip(*rows, strict=True)) for layout, rows in samples.items()
    }


def _corrected(s: float, chance: float) -> float:
    """Cohen's-kappa-style rescaling: 0 at the chance level, 1 at identity, clipped to [0, 1]."""
    if chance >= 1.0:
        return 1.0 if s >= 1.0 else 0.0
    return min(1.0, max(0.0, (s - chance) / (1.0 - chance)))


def score(a: Unit, b: Unit, chance: dict[int, tuple[float, ...]]) -> tuple[float, float]:
    """(chance-corrected score used for the alignment, raw weighted similarity shown to users)."""
    sims, layout = _component_sims(a, b)
    w = _weights(layout)
    levels = chance.get(layout, (0.0,) * layout)
    corrected = sum(wi * _corrected(s, c) for wi, s, c in zip(w, sims, levels, strict=True))
    raw = sum(wi * s for wi, s in zip(w, sims, strict=True))
    return corrected, raw
