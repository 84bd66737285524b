"""Snippets and highlights: where the query's words occur in a clause, in the clause's own (unfolded) text."""

from __future__ import annotations

from functools import lru_cache

from corpus.textnorm import fold

SNIPPET_CHARS = 140


@lru_cache(maxsize=1 << 16)  # fold() of one character is a pure function; a lookup is ~20x cheaper than fold()
def _fold_char(ch: str) -> str:
    return fold(ch)


@lru_cache(maxsize=8192)  # clause texts repeat across queries; folding char by char is the slow part
def _folded_with_map(text: str) -> tuple[str, tuple[int, ...]]:
    """fold(text) and, for each folded character, the index of the source character it came from."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        f = _fold_char(ch)
        out.append(f)
        origin.extend([i] * len(f))
    return "".join(out), tuple(origin)


def highlight_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Merged [start, end) ranges of ``text`` where any term (2+ characters, folded) occurs."""
    folded, origin = _folded_with_map(text)
    spans: list[tuple[int, int]] = []
    for term in {fold(t) for t in terms if len(t) >= 2}:
        start = folded.find(term)
        while start >= 0:
            end = start + len(term)
            spans.append((origin[start], origin[end - 1] + 1))
            start = folded.find(term, end)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def make_snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """The ``width``-character window of ``text`` with the most highlighted characters, and its highlights."""
    spans = highlight_spans(text, terms)
    if len(text) <= width:
        return text, spans
    best_start, best_cover = 0, -1
    for s, _ in spans or [(0, 0)]:
        start = max(0, min(s - width // 4, len(text) - width))
        cover = sum(min(e, start + width) - max(b, start) for b, e in spans if b < start + width and e > start)
        if cover > best_cover:
            best_start, best_cover = start, cover
    end = best_start + width
    prefix = "…" if best_start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = best_start - len(prefix)
    local = [(max(b, best_start) - shift, min(e, end) - shift) for b, e in spans if b < end and e > best_start]
    return prefix + text[best_start:end] + suffix, local
