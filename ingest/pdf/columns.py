"""Two-column slides: find the gutter of a landscape page and read the left column before the right one.

A vertical gutter crossed by few lines splits the lines; runs of lines that do not cross it are read left column
first, then right column, unless two or more horizontal rules cross the gutter (a ruled two-column table, whose
rows must stay together).
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.pdf.lines import Char
from ingest.pdf.underlines import Rule, Shapes, merge_rules


def _segments(row: Sequence[Char]) -> list[tuple[float, float]]:
    """x-extents of the runs of a row, split at gaps wider than 1.5 em."""
    spans: list[tuple[float, float]] = []
    for ch in row:
        if ch["text"].isspace():
            continue
        x0, x1 = float(ch["x0"]), float(ch["x1"])
        em = float(ch.get("size") or 10)
        if spans and x0 - spans[-1][1] <= 1.5 * em:
            spans[-1] = (spans[-1][0], max(spans[-1][1], x1))
        else:
            spans.append((x0, x1))
    return spans


def find_gutter(rows: list[list[Char]]) -> float | None:
    """An x in the middle half of the text's extent that few lines cross while ≥ 3 lines lie on each side."""
    if len(rows) < 4:
        return None
    spans = [_segments(r) for r in rows]
    lo = min(a for ss in spans for a, _ in ss) if any(spans) else 0.0
    hi = max(b for ss in spans for _, b in ss) if any(spans) else 0.0
    width = hi - lo
    best: tuple[int, float, float] | None = None
    x = lo + 0.25 * width
    while x <= lo + 0.75 * width:
        crossing = sum(1 for ss in spans if any(a < x < b for a, b in ss))
        left = sum(1 for ss in spans if any(b <= x for a, b in ss))
        right = sum(1 for ss in spans if any(a >= x for a, b in ss))
        both = sum(1 for ss in spans if any(b <= x for a, b in ss) and any(a >= x for a, b in ss))
        if left >= 3 and right >= 3 and both >= 2 and crossing <= 0.2 * len(rows):
            key = (crossing, abs(x - (lo + hi) / 2), x)
            if best is None or key < best:
                best = key
        x += 4.0
    return None if best is None else best[2]


def ruled_across(shapes: Shapes, gutter: float, rows: list[list[Char]]) -> bool:
    """At least two horizontal rules (thin rules, or the top/bottom edges of cell rects) run across the gutter
    between the page's first and last line: table rows, which must not be read column by column."""
    top = min(float(c["top"]) for c in rows[0])
    bottom = max(float(c["bottom"]) for c in rows[-1])
    edges = [Rule(float(o["x0"]), float(o["x1"]), (float(o["top"]) + float(o["bottom"])) / 2) for o in shapes.lines]
    for r in shapes.rects:
        x0, x1 = float(r["x0"]), float(r["x1"])
        edges.append(Rule(x0, x1, float(r["top"])))
        edges.append(Rule(x0, x1, float(r["bottom"])))
    crossing = {
        round(e.y)
        for e in merge_rules([e for e in edges if top - 2 <= e.y <= bottom + 2])
        if e.x0 < gutter - 5 and e.x1 > gutter + 5
    }
    return len(crossing) >= 2


def order_columns(rows: list[list[Char]], gutter: float) -> list[list[Char]]:
    """The rows in reading order: each run of rows that do not cross the gutter, left parts first."""
    out: list[list[Char]] = []
    left: list[list[Char]] = []
    right: list[list[Char]] = []

    def flush() -> None:
        out.extend(left)
        out.extend(right)
        left.clear()
        right.clear()

    for row in rows:
        if any(float(c["x0"]) < gutter < float(c["x1"]) for c in row) or any(a < gutter < b for a, b in _segments(row)):
            flush()
            out.append(row)
            continue
        lpart = [c for c in row if float(c["x1"]) <= gutter]
        rpart = [c for c in row if float(c["x1"]) > gutter]
        if lpart:
            left.append(lpart)
        if rpart:
            right.append(rpart)
    flush()
    return out
