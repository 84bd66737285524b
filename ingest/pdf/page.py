"""One page: its chars and shapes turned into lines in reading order, and the lines into a ``PdfPage``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.pdf.columns import find_gutter, order_columns, ruled_across
from ingest.pdf.lines import Char, Line, build_line, cluster_rows, dedupe
from ingest.pdf.rotation import direction, is_vertical_writing, turn_box, turn_char
from ingest.pdf.underlines import Shapes, underlined_chars


@dataclass(frozen=True, slots=True)
class PdfPage:
    number: int  # 1-based page number
    text: str  # lines separated by "\n"; running header/footer and page-number lines removed
    underlined: tuple[tuple[int, int], ...]  # [start, end) ranges in ``text`` that are underlined
    landscape: bool = False  # wider than tall as displayed (after /Rotate): slide decks are landscape


def page_lines(page: Any) -> list[Line]:
    """The lines of a pdfplumber page: the text in its main direction first, then any text turned otherwise."""
    chars = dedupe([c for c in page.chars if c.get("text")])
    if not chars:
        return []
    mb_x0 = float(page.mediabox[0]) if getattr(page, "mediabox", None) else 0.0
    by_direction: dict[int, list[Char]] = {}
    for ch in chars:
        by_direction.setdefault(direction(ch), []).append(ch)
    dominant = max(by_direction, key=lambda d: len(by_direction[d]))
    lines: list[Line] = []
    for way in sorted(by_direction, key=lambda d: d != dominant):
        group = by_direction[way]
        vertical = way == 0 and is_vertical_writing(group)
        turn = 90 if vertical else way
        frame_chars = [turn_char(ch, turn, mb_x0, vertical) for ch in group] if turn else group
        width, height = float(page.width), float(page.height)
        if turn in (90, 270) and not vertical:
            width, height = height, width  # a page shown rotated by a quarter turn
        shapes = None
        # underlines and table rules are looked for only with the main text (the shapes are turned with it)
        if way == dominant and not vertical:
            shapes = Shapes(page.rects, page.lines, page.curves)
            if turn:
                shapes = Shapes(*([turn_box(o, turn) for o in objs] for objs in (shapes.rects, shapes.lines, shapes.curves)))
        lines.extend(_lines_in_frame(frame_chars, shapes, width, height))
    return lines


def _lines_in_frame(chars: list[Char], shapes: Shapes | None, width: float, height: float) -> list[Line]:
    """Lines of chars that read left to right in this frame, with underlines found among ``shapes``."""
    rows = cluster_rows(chars)
    underlined = underlined_chars(rows, shapes) if shapes is not None else set()
    gutter = find_gutter(rows) if width > height else None
    if gutter is not None and shapes is not None and ruled_across(shapes, gutter, rows):
        gutter = None  # a table with two columns, not a two-column slide: keep its rows together
    segments = rows if gutter is None else order_columns(rows, gutter)
    lines = [build_line(seg, underlined) for seg in segments]
    return [ln for ln in lines if ln.text]


def assemble(number: int, lines: list[Line], landscape: bool = False) -> PdfPage:
    """The page's text (lines joined by newlines) and its underlined ranges, trimmed of spaces at either end."""
    text = "\n".join(ln.text for ln in lines)
    flags: list[bool] = []
    for i, ln in enumerate(lines):
        if i:
            # a newline inside an underlined run (the run wraps) belongs to the run
            flags.append(bool(flags and flags[-1] and ln.flags and ln.flags[0]))
        flags.extend(ln.flags)
    ranges: list[tuple[int, int]] = []
    i = 0
    while i < len(flags):
        if not flags[i]:
            i += 1
            continue
        j = i
        while j < len(flags) and flags[j]:
            j += 1
        a, b = i, j
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            ranges.append((a, b))
        i = j
    return PdfPage(number=number, text=text, underlined=tuple(ranges), landscape=landscape)
