"""Snippets and highlights: where the query's words occur in a clause, in the clause's own (unfolded) text."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from functools import lru_cache

from corpus.textnorm import fold

SNIPPET_CHARS = 140


class _FoldTable(dict[int, str]):
    """str.translate table: code point -> fold() of that one character, filled on first sight. Characters that do
    not fold to exactly one character (NFKC expansions such as ㍻, or none) are also noted in ``irregular``."""

    def __init__(self) -> None:
        super().__init__()
        self.irregular: set[str] = set()

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        f = fold(ch)
        if len(f) != 1:
            self.irregular.add(ch)
        if len(self) < 1 << 16:
            self[code] = f
        return f


_FOLD = _FoldTable()


@lru_cache(maxsize=8192)  # clause texts repeat across queries
def _folded_with_map(text: str) -> tuple[str, tuple[int, ...] | None]:
    """fold(text) and, for each folded character, the index of the source character it came from (None: the
    identity, when every character folds to exactly one character; no per-character tuple is kept then).

    Each character is folded on its own (as a user reads it). When every character of ``text`` folds to exactly one
    character, the whole text is folded by str.translate in C; otherwise, character by character (a Python loop
    over the text was the cost of snippets at 100k clauses)."""
    folded = text.translate(_FOLD)
    if not _FOLD.irregular.intersection(text):
        return folded, None
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        f = _FOLD[ord(ch)]
        out.append(f)
        origin.extend([i] * len(f))
    return "".join(out), tuple(origin)


def fold_terms(terms: list[str]) -> frozenset[str]:
    """The query's highlight terms as highlight_spans looks for them: 2+ characters, folded. Fold once per query."""
    return frozenset(fold(t) for t in terms if len(t) >= 2)


def highlight_spans(text: str, terms: list[str] | frozenset[str]) -> list[tuple[int, int]]:
    """Merged [start, end) ranges of ``text`` where any term (2+ characters, folded) occurs. ``terms``: the
    query's terms, or fold_terms() of them."""
    folded, origin = _folded_with_map(text)
    spans: list[tuple[int, int]] = []
    for term in terms if isinstance(terms, frozenset) else fold_terms(terms):
        start = folded.find(term)
        while start >= 0:
            end = start + len(term)
            spans.append((start, end) if origin is None else (origin[start], origin[end - 1] + 1))
            start = folded.find(term, end)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _best_window(spans: list[tuple[int, int]], width: int, last: int) -> int:
    """The start of the ``width``-character window with the most highlighted characters, among windows starting a
    quarter width before each span (clamped to [0, last]); the first such span wins a tie.

    Prefix sums over the sorted, disjoint spans: a window overlaps a run of consecutive spans, of which only the
    first can begin before it and only the last end after it. Summing every span for every candidate window was
    quadratic — the snippets' cost on long statute articles with many highlights."""
    if not spans:
        return 0
    begins = [b for b, _ in spans]
    ends = [e for _, e in spans]
    total = [0]
    for b, e in spans:
        total.append(total[-1] + e - b)
    best_start, best_cover = 0, -1
    for s in begins:
        start = max(0, min(s - width // 4, last))
        stop = start + width
        i, j = bisect_right(ends, start), bisect_left(begins, stop)
        cover = 0
        if i < j:
            cover = total[j] - total[i] - max(0, start - begins[i]) - max(0, ends[j - 1] - stop)
        if cover > best_cover:
            best_start, best_cover = start, cover
    return best_start


def make_snippet(text: str, terms: list[str] | frozenset[str],
                 width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """The ``width``-character window of ``text`` with the most highlighted characters, and its highlights."""
    return snippet_from_spans(text, highlight_spans(text, terms), width)


def snippet_from_spans(text: str, spans: list[tuple[int, int]],
                       width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """make_snippet for highlights already found (a hit needs them for the whole text too: found once). ``spans``:
    sorted and disjoint, as highlight_spans gives them."""
    if len(text) <= width:
        return text, list(spans)
    best_start = _best_window(spans, width, len(text) - width)
    end = best_start + width
    prefix = "…" if best_start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = best_start - len(prefix)
    local = [(max(b, best_start) - shift, min(e, end) - shift) for b, e in spans if b < end and e > best_start]
    return prefix + text[best_start:end] + suffix, local
