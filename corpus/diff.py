"""Edition-to-edition diffs: which citable units were added, removed, edited or renumbered, and how.

Units (Q&A items, 要綱 clauses, slide pages) are aligned between two editions *by content*, never by number alone,
because inserting one Q&A item renumbers every later item of its chapter.

Method
------
1. **Normalise** each unit: ``fold`` (NFKC, radical look-alikes repaired, lower case), all whitespace removed, and for
   要綱 clauses the leading clause number ("１ 目的" → "目的") dropped, since it is the section id, not content.
2. **Exact pass.** Units whose normalised texts are equal are paired first — "unchanged" when the section id is the
   same, "renumbered" otherwise. Duplicated texts are paired in document order (the longest common subsequence of
   each group of equal texts), so order is kept when content cannot decide.
3. **Similarity.** For the rest, each component is compared by the Dice coefficient of character-bigram multisets,
   the usual language-independent measure for text without word boundaries. Q&A items have two components: the
   question, weighted 2/3, and the answer, weighted 1/3; other units have one (the whole text).
4. **Chance correction.** Two *different* units of one document already share bigrams (the same legal vocabulary).
   The chance level ``b`` of each component is estimated from the document itself, as the median similarity between
   distinct units within each edition, and each similarity is rescaled as in Cohen's kappa: ``(s - b) / (1 - b)``,
   clipped to [0, 1]. 0 then means "as alike as two unrelated units of this document", 1 means identical.
5. **Assignment.** A pair is admissible only if its score reaches 1/2, the midpoint between chance and identity.
   With the 2:1 weights an identical question alone is enough evidence (2/3 ≥ 1/2), an identical answer alone is
   not (1/3 < 1/2): answers repeat across items (in the 第2版 Q&A, 2-2 and 2-3 have the same answer), questions say
   what an item is about. Among admissible pairs, the one-to-one pairing maximising the summed gain
   ``score - 1/2`` (pairing gains what it exceeds the acceptance level by, leaving both units unmatched gains
   nothing: the gap cost of sequence alignment) is found with the Hungarian algorithm (Kuhn 1955, Munkres 1957;
   the O(n²m) shortest-augmenting-path form with potentials). So one strong pair is not traded for two
   borderline ones. Ties are broken towards order-preserving pairs by a bonus of 1e-6 × position proximity.
6. **Classify.** An accepted pair is "modified" when the section id is kept, "renumbered+modified" otherwise;
   leftover new units are "added", leftover old units "removed".

None of the numbers depends on a particular document: the weights and the 1/2 acceptance level follow from the two
requirements above, and the chance level is measured on the editions being compared.
"""

from __future__ import annotations

import difflib
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from itertools import combinations, islice
from dataclasses import dataclass, field
from typing import Any, Literal

from corpus.model import Clause, ParsedDocument
from corpus.textnorm import fold

ChangeKind = Literal["added", "removed", "unchanged", "modified", "renumbered", "renumbered+modified"]
CHANGE_KINDS: tuple[str, ...] = ("unchanged", "modified", "renumbered", "renumbered+modified", "added", "removed")
InlineOp = Literal["equal", "insert", "delete"]

DEFAULT_KINDS: tuple[str, ...] = ("item", "clause", "page")

QUESTION_WEIGHT = 2 / 3  # > ACCEPT: an identical question alone makes a match
ANSWER_WEIGHT = 1 / 3  # < ACCEPT: an identical (boilerplate) answer alone does not
ACCEPT = 0.5  # on the chance-corrected scale: halfway between "unrelated" (0) and "identical" (1)
TIE_BREAK = 1e-6  # far below any real score difference; only decides between equal scores
MAX_CHANCE_PAIRS = 2000  # enough pairs for a stable median, bounded cost on long documents
MERGE_GAP = 2  # equal runs this short between two changes are folded into the change ("phrases, not confetti")

_SPACE = re.compile(r"\s+")
# A 要綱 clause's text starts with its own number ("１ 目的", "第3条 …"); that is the section id, not content.
_LEADING_LABEL = re.compile(r"^(?:第?[0-9]+[条章節項]?|\([0-9]+\)|[①-⑳])\s+")


# ---------------------------------------------------------------------------------------------------------------------
# Result types


@dataclass(frozen=True, slots=True)
class DiffItem:
    """One row of the 新旧対照表: a unit of the new edition, of the old one, or a pair of both."""

    change: ChangeKind
    new: str | None  # section id in the new edition (None for "removed")
    old: str | None  # section id in the old edition (None for "added")
    similarity: float  # raw weighted bigram similarity of the pair: 1.0 identical, 0.0 for added/removed
    new_text: str | None = None
    old_text: str | None = None
    inline: list[tuple[InlineOp, str]] = field(default_factory=list)  # old → new character diff, for modified rows
    new_heading: str | None = None
    old_heading: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "new": self.new,
            "old": self.old,
            "similarity": round(self.similarity, 4),
            "new_heading": self.new_heading,
            "old_heading": self.old_heading,
            "new_text": self.new_text,
            "old_text": self.old_text,
            "inline": [{"op": op, "text": text} for op, text in self.inline],
        }


@dataclass(frozen=True, slots=True)
class EditionDiff:
    """The aligned units of two editions of one document, in new-edition order."""

    doc_id: str
    old_edition: int
    new_edition: int
    items: tuple[DiffItem, ...]
    old_edition_label: str | None = None
    new_edition_label: str | None = None
    doc_label: str | None = None

    def counts(self) -> dict[str, int]:
        """Number of rows per change class (every class present, zero or not)."""
        c = Counter(i.change for i in self.items)
        return {k: c.get(k, 0) for k in CHANGE_KINDS}

    @property
    def changed(self) -> tuple[DiffItem, ...]:
        return tuple(i for i in self.items if i.change != "unchanged")

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "old_edition": self.old_edition,
            "new_edition": self.new_edition,
            "old_edition_label": self.old_edition_label,
            "new_edition_label": self.new_edition_label,
            "summary": self.counts(),
            "items": [i.to_json() for i in self.items],
        }


# ---------------------------------------------------------------------------------------------------------------------
# Normalisation and similarity


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
class _Unit:
    clause: Clause
    pos: float  # relative position in its edition, 0..1, for the order tie-break
    key: str  # normalised content, for the exact pass
    parts: tuple[tuple[Counter[str], int], ...]  # (question, answer) bigrams for Q&A items, else (text,)


def _unit(clause: Clause, pos: float) -> _Unit:
    if clause.answer is not None:
        texts = [normalize(clause.heading), normalize(clause.answer)]
    else:
        texts = [_content(clause)]
    parts = tuple((bg, sum(bg.values())) for bg in map(_bigrams, texts))
    return _Unit(clause, pos, _content(clause), parts)


def _units(doc: ParsedDocument, kinds: Sequence[str]) -> list[_Unit]:
    clauses = [c for c in doc.clauses if c.kind in kinds]
    n = max(len(clauses) - 1, 1)
    return [_unit(c, i / n) for i, c in enumerate(clauses)]


def _weights(layout: int) -> tuple[float, ...]:
    return (QUESTION_WEIGHT, ANSWER_WEIGHT) if layout == 2 else (1.0,)


def _component_sims(a: _Unit, b: _Unit) -> tuple[tuple[float, ...], int]:
    """Per-component similarities and the layout they follow (2: question/answer, 1: whole text)."""
    if len(a.parts) == len(b.parts):
        return tuple(_dice(x, y, nx, ny) for (x, nx), (y, ny) in zip(a.parts, b.parts, strict=True)), len(a.parts)
    # An item compared with a non-item (never within one document kind): fall back to the whole text.
    whole_a, whole_b = _bigrams(a.key), _bigrams(b.key)
    return (_dice(whole_a, whole_b, sum(whole_a.values()), sum(whole_b.values())),), 1


def _chance_levels(editions: Sequence[Sequence[_Unit]]) -> dict[int, tuple[float, ...]]:
    """Median similarity between *distinct* units of the same edition, per layout and component.

    Distinct units of one edition are different items by construction, so their similarity is what an unrelated
    pair looks like in this document. At most ``MAX_CHANCE_PAIRS`` pairs are used, taken at an even stride.
    """
    samples: dict[int, list[tuple[float, ...]]] = {}
    budget = MAX_CHANCE_PAIRS // max(1, len(editions))
    for units in editions:
        n_pairs = len(units) * (len(units) - 1) // 2
        for a, b in islice(combinations(units, 2), 0, None, max(1, n_pairs // budget)):
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


def _score(a: _Unit, b: _Unit, chance: dict[int, tuple[float, ...]]) -> tuple[float, float]:
    """(chance-corrected score used for the alignment, raw weighted similarity shown to users)."""
    sims, layout = _component_sims(a, b)
    w = _weights(layout)
    levels = chance.get(layout, (0.0,) * layout)
    score = sum(wi * _corrected(s, c) for wi, s, c in zip(w, sims, levels, strict=True))
    raw = sum(wi * s for wi, s in zip(w, sims, strict=True))
    return score, raw


# ---------------------------------------------------------------------------------------------------------------------
# Assignment


def hungarian(cost: Sequence[Sequence[float]]) -> list[int]:
    """Minimum-cost assignment (Kuhn–Munkres / Hungarian algorithm), O(n²·m) with row and column potentials.

    ``cost`` is n × m with n ≤ m; returns, for each row, the column assigned to it. This is the
    shortest-augmenting-path formulation (Jonker–Volgenant style): each row is added in turn and the potentials
    keep reduced costs non-negative, so every augmentation is along a shortest path.
    """
    n = len(cost)
    if n == 0:
        return []
    m = len(cost[0])
    if n > m:
        raise ValueError("hungarian: more rows than columns; transpose the matrix")
    inf = float("inf")
    u = [0.0] * (n + 1)  # row potentials (1-based; index 0 is the virtual start)
    v = [0.0] * (m + 1)  # column potentials
    match = [0] * (m + 1)  # match[j]: row assigned to column j (0: free)
    way = [0] * (m + 1)  # previous column on the augmenting path
    for i in range(1, n + 1):
        match[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = match[j0], inf, 0
            row = cost[i0 - 1]
            for j in range(1, m + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[match[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if match[j0] == 0:
                break
        while j0:  # augment along the path
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
    assigned = [-1] * n
    for j in range(1, m + 1):
        if match[j]:
            assigned[match[j] - 1] = j - 1
    return assigned


def _max_weight_matching(profit: list[list[float]]) -> list[tuple[int, int]]:
    """Pairs (row, col) of a one-to-one assignment maximising total profit; zero-profit pairs are dropped."""
    if not profit or not profit[0]:
        return []
    transpose = len(profit) > len(profit[0])
    mat = [list(col) for col in zip(*profit, strict=True)] if transpose else profit
    assigned = hungarian([[-p for p in row] for row in mat])
    pairs = [(c, r) if transpose else (r, c) for r, c in enumerate(assigned) if c >= 0 and mat[r][c] > 0]
    return sorted(pairs)


@dataclass(frozen=True, slots=True)
class _Pair:
    old: int
    new: int
    raw: float
    exact: bool


def _align(olds: list[_Unit], news: list[_Unit]) -> list[_Pair]:
    pairs: list[_Pair] = []
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
            pairs.append(_Pair(i, j, 1.0, True))
            taken_old.add(i)
            taken_new.add(j)
    rest_old = [i for i in range(len(olds)) if i not in taken_old]
    rest_new = [j for j in range(len(news)) if j not in taken_new]
    if not rest_old or not rest_new:
        return pairs
    # 2. Chance-corrected scores, thresholded, then the optimal one-to-one assignment.
    chance = _chance_levels([olds, news])
    profit: list[list[float]] = []
    raws: dict[tuple[int, int], float] = {}
    for i in rest_old:
        row = []
        for j in rest_new:
            score, raw = _score(olds[i], news[j], chance)
            if score >= ACCEPT:
                # The gain of pairing over leaving both unmatched; kept > 0 so that a pair at exactly ACCEPT counts.
                raws[i, j] = raw
                row.append(score - ACCEPT + TIE_BREAK * (2.0 - abs(olds[i].pos - news[j].pos)))
            else:
                row.append(0.0)
        profit.append(row)
    for r, c in _max_weight_matching(profit):
        i, j = rest_old[r], rest_new[c]
        pairs.append(_Pair(i, j, raws[i, j], False))
    return pairs


# ---------------------------------------------------------------------------------------------------------------------
# Public API


def _edition_label(doc: ParsedDocument) -> str:
    return doc.document.edition_label or f"第{doc.document.edition}版"


def diff_editions(
    old: ParsedDocument, new: ParsedDocument, *, kinds: Sequence[str] = DEFAULT_KINDS
) -> EditionDiff:
    """Align the citable units of two editions by content and classify each (see the module docstring).

    Rows come in new-edition order; a removed unit is placed right after the row of the nearest preceding old unit
    that survives into the new edition (so removed units keep their old neighbourhood), or at the end if none does.
    """
    olds, news = _units(old, kinds), _units(new, kinds)
    pairs = _align(olds, news)
    by_new = {p.new: p for p in pairs}
    by_old = {p.old: p for p in pairs}

    rows: list[DiffItem] = []
    row_of_new: dict[int, int] = {}
    for j, nu in enumerate(news):
        nc = nu.clause
        p = by_new.get(j)
        if p is None:
            item = DiffItem("added", nc.section, None, 0.0, new_text=nc.text, new_heading=nc.heading)
        else:
            oc = olds[p.old].clause
            same_id = oc.section == nc.section
            inline: list[tuple[InlineOp, str]] = []
            if p.exact:
                change: ChangeKind = "unchanged" if same_id else "renumbered"
            else:
                change = "modified" if same_id else "renumbered+modified"
                inline = inline_diff(oc.text, nc.text)
            item = DiffItem(change, nc.section, oc.section, p.raw, nc.text, oc.text, inline, nc.heading, oc.heading)
        row_of_new[j] = len(rows)
        rows.append(item)

    # Removed units: after the new counterpart of their nearest surviving old predecessor.
    inserts: dict[int, list[DiffItem]] = {}  # row index to insert after (-1: at the end)
    anchor = -1
    for i, ou in enumerate(olds):
        p = by_old.get(i)
        if p is not None:
            anchor = row_of_new[p.new]
            continue
        oc = ou.clause
        removed = DiffItem("removed", None, oc.section, 0.0, old_text=oc.text, old_heading=oc.heading)
        inserts.setdefault(anchor, []).append(removed)
    ordered: list[DiffItem] = []
    for r, item in enumerate(rows):
        ordered.append(item)
        ordered.extend(inserts.get(r, ()))
    ordered.extend(inserts.get(-1, ()))

    return EditionDiff(
        doc_id=new.document.id,
        old_edition=old.document.edition,
        new_edition=new.document.edition,
        items=tuple(ordered),
        old_edition_label=_edition_label(old),
        new_edition_label=_edition_label(new),
        doc_label=new.document.label,
    )


def inline_diff(old: str, new: str) -> list[tuple[InlineOp, str]]:
    """Character-level diff of two texts as ("equal" | "insert" | "delete", text) runs.

    Japanese has no word spaces, so the diff is on characters (difflib.SequenceMatcher, autojunk off so that common
    characters such as の are not discarded in long texts). Equal runs of at most ``MERGE_GAP`` characters lying
    *between* two changes are folded into the surrounding change, so that e.g. 「令和7年度」→「令和8年4月」 reads
    as one replaced phrase rather than confetti. Within a change the deletion comes before the insertion.
    Concatenating the equal and delete runs gives ``old``; the equal and insert runs give ``new``.
    """
    ops = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    out: list[tuple[InlineOp, str]] = []
    dele: list[str] = []
    ins: list[str] = []

    def flush() -> None:
        deleted, inserted = "".join(dele), "".join(ins)
        if deleted:
            out.append(("delete", deleted))
        if inserted:
            out.append(("insert", inserted))
        dele.clear()
        ins.clear()

    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            between = bool(dele or ins) and k + 1 < len(ops)
            if between and i2 - i1 <= MERGE_GAP:
                dele.append(old[i1:i2])
                ins.append(new[j1:j2])
                continue
            flush()
            out.append(("equal", old[i1:i2]))
        else:
            dele.append(old[i1:i2])
            ins.append(new[j1:j2])
    flush()
    return out


def change_notes(old: ParsedDocument | None, new: ParsedDocument) -> dict[str, str]:
    """New-edition section id → a short Japanese note for search results (「第2版で追記」, 「第2版で番号変更（旧2-9）」).

    Without an old edition, clauses whose text carries underlined (changed) runs get 「第2版で変更（下線部）」:
    Japanese notices underline what changed since the previous edition.
    """
    label = _edition_label(new)
    if old is None:
        return {c.section: f"{label}で変更（下線部）" for c in new.clauses if c.changed_spans}
    notes: dict[str, str] = {}
    for item in diff_editions(old, new).items:
        if item.new is None:
            continue
        if item.change == "added":
            notes[item.new] = f"{label}で追記"
        elif item.change in ("modified", "renumbered+modified"):
            notes[item.new] = f"{label}で変更"
        elif item.change == "renumbered":
            notes[item.new] = f"{label}で番号変更（旧{item.old}）"
    return notes
