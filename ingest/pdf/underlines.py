"""Underlines: thin horizontal rules under a line's text, told apart from header rules, table borders and boxes.

Rules are filled rects ≤ 1.5 pt high, stroked lines ≤ 2 pt wide and flat paths; collinear pieces ≤ 2.5 pt apart
are joined, so dotted/dashed underlines count. A rule underlines a line when its centre lies between 0.5 pt above
the baseline and max(0.35 em below the baseline, char bottom) + 1 pt, when the line's chars cover ≥ 75% of its
length (rejects header rules and table borders wider than their text), and when its ends do not meet a vertical
rule (rejects table cells and boxes). Each char overlapped horizontally by more than half its width is underlined.
Strike-throughs sit above the baseline and boxes are tall rects, so neither counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ingest.pdf.lines import Char, baseline

RULE_MAX_THICKNESS = 1.5  # filled rect height / rect-edge spacing for a rule (points)
LINE_MAX_WIDTH = 2.0  # stroke width for a stroked line to count as a rule
RULE_MIN_COVERAGE = 0.75  # share of the rule's length that the line's chars must cover
RULE_JOIN_GAP = 2.5  # collinear rule pieces this close are one rule (dotted/dashed underlines)
ENDPOINT_TOLERANCE = 2.0  # a vertical rule this close to a rule's end makes it a border


@dataclass(frozen=True, slots=True)
class Shapes:
    """The drawn shapes of a page (pdfplumber's rects, lines and curves), possibly turned with its text."""

    rects: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    curves: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Rule:
    x0: float
    x1: float
    y: float  # vertical centre, top-down coordinates


def rules(page: Shapes) -> list[Rule]:
    """Thin horizontal rules on the page (candidates for underlines)."""
    found: list[Rule] = []
    for r in page.rects:
        h = float(r["bottom"]) - float(r["top"])
        w = float(r["x1"]) - float(r["x0"])
        if h <= RULE_MAX_THICKNESS and w > 0.3 and (r.get("fill") or r.get("stroke")):
            found.append(Rule(float(r["x0"]), float(r["x1"]), (float(r["top"]) + float(r["bottom"])) / 2))
    for ln in page.lines:
        h = float(ln["bottom"]) - float(ln["top"])
        w = float(ln["x1"]) - float(ln["x0"])
        lw = float(ln.get("linewidth") or 0)
        if h <= 0.5 and w > 0.3 and lw <= LINE_MAX_WIDTH:
            found.append(Rule(float(ln["x0"]), float(ln["x1"]), (float(ln["top"]) + float(ln["bottom"])) / 2))
    for cv in page.curves:  # flat filled paths that pdfminer did not recognise as rects
        h = float(cv["bottom"]) - float(cv["top"])
        w = float(cv["x1"]) - float(cv["x0"])
        if h <= RULE_MAX_THICKNESS and w > 0.3 and w > 2 * h and (cv.get("fill") or cv.get("stroke")):
            found.append(Rule(float(cv["x0"]), float(cv["x1"]), (float(cv["top"]) + float(cv["bottom"])) / 2))
    return merge_rules(found)


def merge_rules(pieces: list[Rule]) -> list[Rule]:
    """Join collinear pieces (dotted or dashed underlines, one rect per text run) into one rule."""
    merged: list[Rule] = []
    for rule in sorted(pieces, key=lambda r: (round(r.y * 2), r.x0)):
        last = merged[-1] if merged else None
        if last is not None and abs(last.y - rule.y) <= 0.5 and rule.x0 - last.x1 <= RULE_JOIN_GAP:
            merged[-1] = Rule(last.x0, max(last.x1, rule.x1), last.y)
        else:
            merged.append(rule)
    return merged


def verticals(page: Shapes) -> list[tuple[float, float, float]]:
    """(x, top, bottom) of vertical strokes: stroked lines, thin rects, and the sides of taller rects."""
    out: list[tuple[float, float, float]] = []
    for ln in page.lines:
        if abs(float(ln["x1"]) - float(ln["x0"])) <= 1.0 and float(ln["bottom"]) - float(ln["top"]) > 2.0:
            out.append(((float(ln["x0"]) + float(ln["x1"])) / 2, float(ln["top"]), float(ln["bottom"])))
    for r in page.rects:
        w = float(r["x1"]) - float(r["x0"])
        h = float(r["bottom"]) - float(r["top"])
        if h <= 2.0:
            continue
        if w <= RULE_MAX_THICKNESS:
            out.append(((float(r["x0"]) + float(r["x1"])) / 2, float(r["top"]), float(r["bottom"])))
        else:
            out.append((float(r["x0"]), float(r["top"]), float(r["bottom"])))
            out.append((float(r["x1"]), float(r["top"]), float(r["bottom"])))
    return out


def underlined_chars(rows: list[list[Char]], shapes: Shapes) -> set[int]:
    """ids of the chars in ``rows`` that a rule among ``shapes`` underlines (see the module docstring)."""
    found = rules(shapes)
    return _match_rules(rows, found, verticals(shapes)) if found else set()


def _match_rules(rows: list[list[Char]], found: list[Rule], upright: list[tuple[float, float, float]]) -> set[int]:
    info = []
    for row in rows:
        base = sorted(baseline(c) for c in row)[len(row) // 2]
        size = sorted(float(c.get("size") or 10) for c in row)[len(row) // 2]
        bottom = max(float(c["bottom"]) for c in row)
        info.append((base - 0.5, max(base + 0.35 * size, bottom) + 1.0, base))
    result: set[int] = set()
    for rule in found:
        # the nearest line above whose underline zone holds the rule
        best = None
        for i, (lo, hi, base) in enumerate(info):
            if lo <= rule.y <= hi and (best is None or base > info[best][2]):
                best = i
        if best is None:
            continue
        row = rows[best]
        length = rule.x1 - rule.x0
        covered = _covered(((float(c["x0"]), float(c["x1"])) for c in row), rule.x0, rule.x1)
        if length <= 0 or covered < RULE_MIN_COVERAGE * length:
            continue
        if _meets_vertical(rule, upright):
            continue
        for c in row:
            cx0, cx1 = float(c["x0"]), float(c["x1"])
            w = cx1 - cx0
            overlap = min(cx1, rule.x1) - max(cx0, rule.x0)
            if w > 0 and overlap > 0.5 * w:
                result.add(id(c))
    return result


def _covered(spans: Iterable[tuple[float, float]], lo: float, hi: float) -> float:
    total = 0.0
    end = lo
    for a, b in sorted(spans):
        a, b = max(a, end), min(b, hi)
        if b > a:
            total += b - a
            end = b
    return total


def _meets_vertical(rule: Rule, upright: list[tuple[float, float, float]]) -> bool:
    for x, top, bottom in upright:
        if top - ENDPOINT_TOLERANCE <= rule.y <= bottom + ENDPOINT_TOLERANCE and (
            abs(x - rule.x0) <= ENDPOINT_TOLERANCE or abs(x - rule.x1) <= ENDPOINT_TOLERANCE
        ):
            return True
    return False
