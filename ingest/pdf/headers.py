"""Running headers, footers and page numbers: the lines peeled off the top and bottom of every page.

Lines are peeled off one layer at a time (at most 3 layers). A page number ("- 3 -", "3 / 8", "（３）", "P.3",
"3頁") always goes: at most one per page, and only when set apart from the body by more than 1.3 x the page's
line pitch, so a wrapped "3" at the top of the body stays. Any other line goes when the same line (digits and
spaces ignored, so "資料 p.2" = "資料 p.3") is at that edge, at the same height (±5 pt), on at least 60% of the
pages and at least 3 pages, provided its numbers are constant or move with the page number (so that "第1条…" and
"第16条…" opening pages 1 and 2 are not taken for a header).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from ingest.pdf.lines import Line

HEADER_SCAN_LINES = 3  # how many lines at the top/bottom of a page can be a running header/footer
REPEAT_SHARE = 0.6  # a header/footer repeats on at least this share of the pages ...
REPEAT_MIN_PAGES = 3  # ... and on at least this many pages
POSITION_TOLERANCE = 5.0  # a running header/footer sits at the same height on every page (points)

_PAGE_NUMBER = re.compile(
    r"""^[\s\-‐‑–—―−ー~〜]*           # "- 3 -", "— 3 —"
        (?:p\.?|page|ページ|頁)?\s*     # "P.3", "page 3"
        [(\[<]?\s*\d{1,4}\s*[)\]>]?     # "3", "(3)"
        (?:\s*/\s*\d{1,4})?             # "3 / 8"
        \s*(?:頁|ページ|of\s*\d{1,4})?  # "3頁", "3 of 8"
        [\s\-‐‑–—―−ー~〜]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def _header_key(text: str) -> str:
    norm = unicodedata.normalize("NFKC", text)
    return _SPACES.sub("", _DIGITS.sub("", norm))


def _is_page_number(text: str) -> bool:
    return bool(_PAGE_NUMBER.match(unicodedata.normalize("NFKC", text).strip()))


def _numbers_run_with_pages(hits: list[tuple[int, Line]]) -> bool:
    """True when, group by group, the numbers in the lines are either the same on every page or move with the
    page number ("資料 p.2" on page 2, "資料 p.3" on page 3, "3 / 8" …)."""
    groups = [[int(g) for g in _DIGITS.findall(unicodedata.normalize("NFKC", ln.text))] for _, ln in hits]
    if len({len(g) for g in groups}) != 1:
        return False
    for k in range(len(groups[0])):
        values = [g[k] for g in groups]
        offsets = {v - i for v, (i, _) in zip(values, hits)}
        if len(set(values)) > 1 and len(offsets) > 1:
            return False
    return True


def _line_pitch(lines: list[Line]) -> float | None:
    """The usual distance between successive lines of a page (lower quartile: short pages have few body steps
    next to the big header/footer steps), None when there are too few lines."""
    tops = [ln.top for ln in lines if ln.top is not None]
    steps = sorted(abs(b - a) for a, b in zip(tops, tops[1:]) if abs(b - a) > 0.5)
    return steps[len(steps) // 4] if len(steps) >= 2 else None


def _set_apart(line: Line, inward: Line | None, pitch: float | None) -> bool:
    """A page number sits in the margin: further from the body than body lines are from each other."""
    if inward is None or pitch is None or line.top is None or inward.top is None:
        return True
    return abs(line.top - inward.top) > 1.3 * pitch


def remove_running_lines(pages: list[list[Line]]) -> list[list[Line]]:
    """Peel running lines off the top and bottom of every page, one layer at a time (at most
    HEADER_SCAN_LINES layers): page numbers always; other lines when the same line (digits ignored) sits at
    that edge, at the same height (±POSITION_TOLERANCE), on at least REPEAT_SHARE of the pages (≥ 3 pages)."""
    n = len(pages)
    threshold = max(REPEAT_MIN_PAGES, REPEAT_SHARE * n)
    bounds = [[0, len(lines)] for lines in pages]
    numbered = [False for _ in pages]  # one page-number line per page: a "1" after (or before) it is body
    pitches = [_line_pitch(lines) for lines in pages]

    def peel(edge: int) -> bool:  # edge 0: top, 1: bottom
        changed = False
        for i, (lines, b, pitch) in enumerate(zip(pages, bounds, pitches)):
            if b[0] >= b[1] or numbered[i]:
                continue
            at = b[0] if edge == 0 else b[1] - 1
            inward = at + 1 if edge == 0 else at - 1
            if _is_page_number(lines[at].text) and _set_apart(lines[at], lines[inward] if b[0] <= inward < b[1] else None, pitch):
                b[edge] += 1 if edge == 0 else -1
                numbered[i] = True
                changed = True
        if n < REPEAT_MIN_PAGES:
            return changed
        at_edge: dict[str, list[tuple[int, Line]]] = {}
        for i, (lines, b) in enumerate(zip(pages, bounds)):
            if b[0] < b[1]:
                line = lines[b[0] if edge == 0 else b[1] - 1]
                key = _header_key(line.text)
                if key:
                    at_edge.setdefault(key, []).append((i, line))
        for hits in at_edge.values():
            if len(hits) < threshold:
                continue
            tops = sorted(ln.top for _, ln in hits if ln.top is not None)
            mid = tops[len(tops) // 2] if tops else None
            hits = [(i, ln) for i, ln in hits if mid is None or ln.top is None or abs(ln.top - mid) <= POSITION_TOLERANCE]
            if len(hits) < threshold:
                continue
            if not _numbers_run_with_pages(hits):
                # "第1条…" / "第16条…" at the top of pages 1 and 2: same words, but the numbers are not page
                # numbers; keep only the pages whose line is identical to the most common one
                common = Counter(ln.text for _, ln in hits).most_common(1)[0][0]
                hits = [(i, ln) for i, ln in hits if ln.text == common]
                if len(hits) < threshold:
                    continue
            for i, _ in hits:
                bounds[i][edge] += 1 if edge == 0 else -1
            changed = True
        return changed

    for _ in range(HEADER_SCAN_LINES):
        bottom_changed = peel(1)  # footers first: page numbers are more often at the bottom
        top_changed = peel(0)
        if not (top_changed or bottom_changed):
            break
    return [lines[b[0] : b[1]] for lines, b in zip(pages, bounds)]
