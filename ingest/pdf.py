"""PDF text extraction (pdfplumber): page text in reading order, running headers/footers removed, underlines found.

The text of each page is built here from pdfplumber's chars (not ``extract_text``) so that every character of
the returned text maps back to the chars it came from; that is what makes the underline ranges exact.

Rules, in short:

* Lines: chars are clustered by baseline (from the glyph matrix, so mixed fonts share a line); within a line
  chars are ordered by x. A space is kept where the PDF has a space char (runs collapse to one; U+3000 is kept
  as is), and inserted where the gap between two chars is wide (> 0.25 em between Latin chars, > 1 em when
  either side is a CJK / full-width char), so Japanese text gets no spurious spaces.
* Rotated pages (/Rotate, or text drawn turned) are read in the direction most of their text runs; vertical
  writing (縦書き: upright glyphs stacked top to bottom) is read column by column, right to left.
* Landscape pages (slides) with two columns: a vertical gutter crossed by few lines splits the lines; runs of
  lines that do not cross it are read left column first, then right column — unless two or more horizontal
  rules cross the gutter (a ruled two-column table, whose rows must stay together).
* Headers/footers: lines are peeled off the top and bottom of each page one layer at a time (at most 3 layers):
  a page number ("- 3 -", "3 / 8", "（３）", "P.3", "3頁"; at most one per page, and set apart from the body by
  more than 1.3 × the page's line pitch, so a wrapped "3" at the top of the body stays) always; any other line when the same line (digits and
  spaces ignored, so "資料 p.2" = "資料 p.3") is at that edge, at the same height (±5 pt), on at least 60% of
  the pages and at least 3 pages, provided its numbers are constant or move with the page number (so that
  "第1条…" and "第16条…" opening pages 1 and 2 are not taken for a header).
* Underlines: thin horizontal rules (filled rects ≤ 1.5 pt high, stroked lines ≤ 2 pt wide, flat paths;
  collinear pieces ≤ 2.5 pt apart joined, so dotted/dashed underlines count) whose
  centre lies between 0.5 pt above the baseline and max(0.35 em below the baseline, char bottom) + 1 pt, that
  are mostly covered by the chars of that line (≥ 75% of the rule's length: rejects header rules and table
  borders wider than their text), whose ends do not meet a vertical rule (rejects table cells and boxes).
  Each char overlapped horizontally by more than half its width is underlined. Strike-throughs sit above the
  baseline and boxes are tall rects, so neither counts.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.errors import BadPdf

logger = logging.getLogger(__name__)
for _noisy in ("pdfminer", "pdfplumber"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)

__all__ = ["PdfPage", "extract_pdf"]


@dataclass(frozen=True, slots=True)
class PdfPage:
    number: int  # 1-based page number
    text: str  # lines separated by "\n"; running header/footer and page-number lines removed
    underlined: tuple[tuple[int, int], ...]  # [start, end) ranges in ``text`` that are underlined
    landscape: bool = False  # wider than tall as displayed (after /Rotate): slide decks are landscape


# ---------------------------------------------------------------- tunables
HEADER_SCAN_LINES = 3  # how many lines at the top/bottom of a page can be a running header/footer
REPEAT_SHARE = 0.6  # a header/footer repeats on at least this share of the pages ...
REPEAT_MIN_PAGES = 3  # ... and on at least this many pages
RULE_MAX_THICKNESS = 1.5  # filled rect height / rect-edge spacing for a rule (points)
LINE_MAX_WIDTH = 2.0  # stroke width for a stroked line to count as a rule
RULE_MIN_COVERAGE = 0.75  # share of the rule's length that the line's chars must cover
RULE_JOIN_GAP = 2.5  # collinear rule pieces this close are one rule (dotted/dashed underlines)
ENDPOINT_TOLERANCE = 2.0  # a vertical rule this close to a rule's end makes it a border
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


# ---------------------------------------------------------------- public API
def extract_pdf(path: Path, *, max_pages: int = 2000) -> list[PdfPage]:
    """Extract the text of every page of the PDF at ``path``; raise ``BadPdf`` when that cannot be done."""
    import pdfplumber  # imported here so that importing this module stays cheap

    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1024)
            fh.seek(max(0, size - 2048))
            tail = fh.read()
    except OSError as exc:
        raise BadPdf(name, f"cannot read file ({exc.strerror or exc})") from exc
    if size == 0:
        raise BadPdf(name, "empty file (0 bytes)", "check the download")
    if b"%PDF-" not in head:
        raise BadPdf(name, "not a PDF (no %PDF- header)", "check the file type; text files go through the text ingester")
    truncated = b"%%EOF" not in tail

    pages_raw: list[list[_Line]] = []
    landscape: list[bool] = []
    try:
        with pdfplumber.open(path) as pdf:
            count = _page_count(pdf)
            if count is not None and count > max_pages:
                raise BadPdf(name, f"too many pages ({count} > max_pages={max_pages})", "split the PDF or raise max_pages")
            for page in pdf.pages:
                if len(pages_raw) >= max_pages:
                    raise BadPdf(name, f"too many pages (more than max_pages={max_pages})", "split the PDF or raise max_pages")
                try:
                    landscape.append(float(page.width) > float(page.height))  # pdfplumber applies /Rotate
                    pages_raw.append(_page_lines(page))
                finally:
                    page.close()
    except BadPdf:
        raise
    except Exception as exc:  # anything pdfminer/pdfplumber raises on a broken, encrypted or hostile file
        raise _classify(name, exc, truncated) from exc

    if truncated:
        logger.warning("%s: no %%%%EOF marker at the end; the file may be truncated", name)
    if not any(line.text.strip() for lines in pages_raw for line in lines):
        raise BadPdf(name, "no text layer (scanned image?)", "run OCR first, or ingest a text export")

    pages_lines = _remove_running_lines(pages_raw)
    result = [_assemble(number, lines, wide) for number, (lines, wide) in enumerate(zip(pages_lines, landscape), start=1)]
    if not any(p.text.strip() for p in result):
        raise BadPdf(name, "no text layer (only running headers/page numbers; scanned image?)", "run OCR first, or ingest a text export")
    logger.debug("%s: %d pages, %d chars", name, len(result), sum(len(p.text) for p in result))
    return result


# ---------------------------------------------------------------- errors
def _page_count(pdf: Any) -> int | None:
    """The /Count of the page tree, read without building every page (so a PDF bomb is refused cheaply)."""
    from pdfminer.pdftypes import resolve1

    try:
        count = resolve1(resolve1(pdf.doc.catalog.get("Pages")).get("Count"))
        return int(count)
    except Exception:  # no usable /Count: pages are counted while iterating instead
        return None


def _classify(name: str, exc: BaseException, truncated: bool) -> BadPdf:
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(chain) < 5:
        chain.append(e)
        e = e.args[0] if e.args and isinstance(e.args[0], BaseException) else (e.__cause__ or e.__context__)
    kinds = {type(x).__name__ for x in chain}
    if kinds & {"PDFPasswordIncorrect", "PDFEncryptionError", "PDFEncryptionWarning", "PDFTextExtractionNotAllowed"}:
        return BadPdf(name, "encrypted (password-protected)", "ask for an unprotected copy, or remove the password first")
    detail = type(chain[-1]).__name__
    message = str(chain[-1]).strip()
    if message:
        detail += f": {message[:120]}"
    if truncated or kinds & {"PSEOF"}:
        return BadPdf(name, f"truncated or corrupt PDF ({detail})", "download the file again")
    return BadPdf(name, f"corrupt PDF ({detail})", "download the file again, or re-save it from a PDF viewer")


# ---------------------------------------------------------------- lines from chars
@dataclass(slots=True)
class _Line:
    text: str
    flags: list[bool]  # per character of ``text``: underlined?
    top: float | None = None  # top of the line's chars on the page (None: unknown)


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _baseline(ch: dict[str, Any]) -> float:
    """The char's baseline in pdfplumber's top-down coordinates (falls back to its bottom)."""
    if "_base" in ch:
        return float(ch["_base"])
    m = ch.get("matrix")
    if m is not None and ch.get("upright", True):
        try:
            return float(ch["bottom"]) - (float(m[5]) - float(ch["y0"]))
        except (TypeError, ValueError, IndexError, KeyError):
            pass
    return float(ch["bottom"])


@dataclass(slots=True)
class _Shapes:
    rects: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    curves: list[dict[str, Any]]


def _page_lines(page: Any) -> list[_Line]:
    chars = _dedupe([c for c in page.chars if c.get("text")])
    if not chars:
        return []
    mb_x0 = float(page.mediabox[0]) if getattr(page, "mediabox", None) else 0.0
    by_direction: dict[int, list[dict[str, Any]]] = {}
    for ch in chars:
        by_direction.setdefault(_direction(ch), []).append(ch)
    dominant = max(by_direction, key=lambda d: len(by_direction[d]))
    lines: list[_Line] = []
    for direction in sorted(by_direction, key=lambda d: d != dominant):
        group = by_direction[direction]
        vertical = direction == 0 and _is_vertical_writing(group)
        turn = 90 if vertical else direction
        frame_chars = [_turn_char(ch, turn, mb_x0, vertical) for ch in group] if turn else group
        width, height = float(page.width), float(page.height)
        if turn in (90, 270) and not vertical:
            width, height = height, width  # a page shown rotated by a quarter turn
        shapes = None
        if direction == dominant and not vertical:
            shapes = _Shapes(page.rects, page.lines, page.curves)
            if turn:
                shapes = _Shapes(*([_turn_box(o, turn) for o in objs] for objs in (shapes.rects, shapes.lines, shapes.curves)))
        lines.extend(_lines_in_frame(frame_chars, shapes, width, height))
    return lines


def _lines_in_frame(chars: list[dict[str, Any]], shapes: _Shapes | None, width: float, height: float) -> list[_Line]:
    """Lines of chars that read left to right in this frame, with underlines found among ``shapes``."""
    rows = _cluster_rows(chars)
    underlined: set[int] = set()
    if shapes is not None:
        rules = _rules(shapes)
        if rules:
            underlined = _match_rules(rows, rules, _verticals(shapes))
    gutter = _find_gutter(rows) if width > height else None
    if gutter is not None and shapes is not None and _ruled_across(shapes, gutter, rows):
        gutter = None  # a table with two columns, not a two-column slide: keep its rows together
    segments = rows if gutter is None else _order_columns(rows, gutter)
    lines = [_build_line(seg, underlined) for seg in segments]
    return [ln for ln in lines if ln.text]


# ---------------------------------------------------------------- rotated pages and vertical writing
def _direction(ch: dict[str, Any]) -> int:
    """Which way the text advances on the page: 0 left-to-right, 90 downwards, 180 right-to-left (upside down),
    270 upwards (quarter turns as shown in pdfplumber's top-down coordinates)."""
    m = ch.get("matrix")
    if m is None:
        return 0 if ch.get("upright", True) else 90
    a, b = float(m[0]), float(m[1])
    if abs(a) >= abs(b):
        return 0 if a > 0 else 180
    return 90 if b < 0 else 270


def _is_vertical_writing(chars: list[dict[str, Any]]) -> bool:
    """Upright glyphs stacked top to bottom (縦書き): consecutive chars (content-stream order) mostly step down."""
    down = across = 0
    prev = None
    for ch in chars:
        if ch["text"].isspace():
            continue
        if prev is not None:
            size = float(prev.get("size") or 10)
            dx = float(ch["x0"]) - float(prev["x0"])
            dy = float(ch["top"]) - float(prev["top"])
            if abs(dx) < 0.3 * size and 0 < dy < 2 * size:
                down += 1
            elif abs(dy) < 0.3 * size and 0 < dx < 2 * size:
                across += 1
        prev = ch
    return down >= 5 and down > 2 * across


def _turn(x0: float, top: float, x1: float, bottom: float, turn: int) -> tuple[float, float, float, float]:
    """Map a box so that text advancing in direction ``turn`` reads left to right (relative coordinates)."""
    if turn == 90:
        return top, -x1, bottom, -x0
    if turn == 270:
        return -bottom, x0, -top, x1
    if turn == 180:
        return -x1, -bottom, -x0, -top
    return x0, top, x1, bottom


def _turn_box(obj: dict[str, Any], turn: int) -> dict[str, Any]:
    x0, top, x1, bottom = _turn(float(obj["x0"]), float(obj["top"]), float(obj["x1"]), float(obj["bottom"]), turn)
    return {**obj, "x0": x0, "top": top, "x1": x1, "bottom": bottom}


def _turn_char(ch: dict[str, Any], turn: int, mb_x0: float, vertical: bool) -> dict[str, Any]:
    new = _turn_box(ch, turn)
    if vertical:
        new["_base"] = (new["top"] + new["bottom"]) / 2  # vertical writing: columns share a centre line
        return new
    m = ch.get("matrix")
    descent = 0.0
    if m is not None:
        # distance from the glyph origin to the box edge on the glyph's "down" side, in raw PDF coordinates
        raw_x0, raw_x1 = float(ch["x0"]) - mb_x0, float(ch["x1"]) - mb_x0
        descent = {
            90: float(m[4]) - raw_x0,
            270: raw_x1 - float(m[4]),
            180: float(ch["y1"]) - float(m[5]),
        }.get(turn, 0.0)
    new["_base"] = new["bottom"] - max(0.0, descent)
    return new


def _dedupe(chars: list[dict[str, Any]], tolerance: float = 1.0) -> list[dict[str, Any]]:
    """Drop chars that repeat the same text at (almost) the same place (fake bold, shadow text); linear time."""
    seen: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    out: list[dict[str, Any]] = []
    for ch in chars:
        x, y = float(ch["x0"]), float(ch["top"])
        bx, by = int(x // tolerance), int(y // tolerance)
        duplicate = False
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for other in seen.get((ch["text"], bx + dx, by + dy), ()):
                    if abs(float(other["x0"]) - x) <= tolerance and abs(float(other["top"]) - y) <= tolerance:
                        duplicate = True
                        break
        if not duplicate:
            seen.setdefault((ch["text"], bx, by), []).append(ch)
            out.append(ch)
    return out


def _cluster_rows(chars: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Group chars whose baselines lie within ~0.3 em of each other, top to bottom."""
    ordered = sorted(chars, key=_baseline)
    rows: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    ref = 0.0
    for ch in ordered:
        b = _baseline(ch)
        tol = max(1.5, 0.3 * float(ch.get("size") or 10))
        if current and abs(b - ref) <= tol:
            current.append(ch)
        else:
            if current:
                rows.append(current)
            current = [ch]
            ref = b
    if current:
        rows.append(current)
    for row in rows:
        row.sort(key=lambda c: c["x0"])
    return rows


def _build_line(chars: Sequence[dict[str, Any]], underlined: set[int]) -> _Line:
    out: list[str] = []
    flags: list[bool] = []
    prev: dict[str, Any] | None = None
    pending_space = False
    for ch in chars:
        t = ch["text"]
        if t.isspace() and t != "\u3000":
            pending_space = True
            continue
        if prev is not None:
            gap = float(ch["x0"]) - float(prev["x1"])
            em = min(float(ch.get("size") or 10), float(prev.get("size") or 10))
            wide = _is_wide(t[0]) or _is_wide(prev["text"][-1])
            if gap > (1.0 if wide else 0.25) * em:
                pending_space = True
            if pending_space and out and out[-1] not in (" ", "\u3000"):
                out.append(" ")
                flags.append(id(prev) in underlined and id(ch) in underlined)
        pending_space = False
        flag = id(ch) in underlined
        for letter in t:
            out.append(letter)
            flags.append(flag)
        prev = ch
    text = "".join(out)
    # trim (full-width spaces at the start are kept: they are paragraph indents)
    end = len(text.rstrip())
    start = len(text) - len(text.lstrip(" "))
    top = min((float(c["top"]) for c in chars), default=None)
    return _Line(text[start:end], flags[start:end], top)


# ---------------------------------------------------------------- columns (landscape slides)
def _segments(row: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
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


def _find_gutter(rows: list[list[dict[str, Any]]]) -> float | None:
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


def _ruled_across(shapes: _Shapes, gutter: float, rows: list[list[dict[str, Any]]]) -> bool:
    """At least two horizontal rules (thin rules, or the top/bottom edges of cell rects) run across the gutter
    between the page's first and last line: table rows, which must not be read column by column."""
    top = min(float(c["top"]) for c in rows[0])
    bottom = max(float(c["bottom"]) for c in rows[-1])
    edges = [_Rule(float(o["x0"]), float(o["x1"]), (float(o["top"]) + float(o["bottom"])) / 2) for o in shapes.lines]
    for r in shapes.rects:
        x0, x1 = float(r["x0"]), float(r["x1"])
        edges.append(_Rule(x0, x1, float(r["top"])))
        edges.append(_Rule(x0, x1, float(r["bottom"])))
    crossing = {
        round(e.y)
        for e in _merge_rules([e for e in edges if top - 2 <= e.y <= bottom + 2])
        if e.x0 < gutter - 5 and e.x1 > gutter + 5
    }
    return len(crossing) >= 2


def _order_columns(rows: list[list[dict[str, Any]]], gutter: float) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = []
    left: list[list[dict[str, Any]]] = []
    right: list[list[dict[str, Any]]] = []

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


# ---------------------------------------------------------------- underlines
@dataclass(slots=True)
class _Rule:
    x0: float
    x1: float
    y: float  # vertical centre, top-down coordinates


def _rules(page: _Shapes) -> list[_Rule]:
    """Thin horizontal rules on the page (candidates for underlines)."""
    rules: list[_Rule] = []
    for r in page.rects:
        h = float(r["bottom"]) - float(r["top"])
        w = float(r["x1"]) - float(r["x0"])
        if h <= RULE_MAX_THICKNESS and w > 0.3 and (r.get("fill") or r.get("stroke")):
            rules.append(_Rule(float(r["x0"]), float(r["x1"]), (float(r["top"]) + float(r["bottom"])) / 2))
    for ln in page.lines:
        h = float(ln["bottom"]) - float(ln["top"])
        w = float(ln["x1"]) - float(ln["x0"])
        lw = float(ln.get("linewidth") or 0)
        if h <= 0.5 and w > 0.3 and lw <= LINE_MAX_WIDTH:
            rules.append(_Rule(float(ln["x0"]), float(ln["x1"]), (float(ln["top"]) + float(ln["bottom"])) / 2))
    for cv in page.curves:  # flat filled paths that pdfminer did not recognise as rects
        h = float(cv["bottom"]) - float(cv["top"])
        w = float(cv["x1"]) - float(cv["x0"])
        if h <= RULE_MAX_THICKNESS and w > 0.3 and w > 2 * h and (cv.get("fill") or cv.get("stroke")):
            rules.append(_Rule(float(cv["x0"]), float(cv["x1"]), (float(cv["top"]) + float(cv["bottom"])) / 2))
    return _merge_rules(rules)


def _merge_rules(rules: list[_Rule]) -> list[_Rule]:
    """Join collinear pieces (dotted or dashed underlines, one rect per text run) into one rule."""
    merged: list[_Rule] = []
    for rule in sorted(rules, key=lambda r: (round(r.y * 2), r.x0)):
        last = merged[-1] if merged else None
        if last is not None and abs(last.y - rule.y) <= 0.5 and rule.x0 - last.x1 <= RULE_JOIN_GAP:
            last.x1 = max(last.x1, rule.x1)
        else:
            merged.append(_Rule(rule.x0, rule.x1, rule.y))
    return merged


def _verticals(page: _Shapes) -> list[tuple[float, float, float]]:
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


def _match_rules(rows: list[list[dict[str, Any]]], rules: list[_Rule], verticals: list[tuple[float, float, float]]) -> set[int]:
    """ids of the chars that a rule underlines (see the module docstring for the rule)."""
    info = []
    for row in rows:
        base = sorted(_baseline(c) for c in row)[len(row) // 2]
        size = sorted(float(c.get("size") or 10) for c in row)[len(row) // 2]
        bottom = max(float(c["bottom"]) for c in row)
        info.append((base - 0.5, max(base + 0.35 * size, bottom) + 1.0, base))
    result: set[int] = set()
    for rule in rules:
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
        if _meets_vertical(rule, verticals):
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


def _meets_vertical(rule: _Rule, verticals: list[tuple[float, float, float]]) -> bool:
    for x, top, bottom in verticals:
        if top - ENDPOINT_TOLERANCE <= rule.y <= bottom + ENDPOINT_TOLERANCE and (
            abs(x - rule.x0) <= ENDPOINT_TOLERANCE or abs(x - rule.x1) <= ENDPOINT_TOLERANCE
        ):
            return True
    return False


# ---------------------------------------------------------------- running headers / footers
def _header_key(text: str) -> str:
    norm = unicodedata.normalize("NFKC", text)
    return _SPACES.sub("", _DIGITS.sub("", norm))


def _is_page_number(text: str) -> bool:
    return bool(_PAGE_NUMBER.match(unicodedata.normalize("NFKC", text).strip()))


def _numbers_run_with_pages(hits: list[tuple[int, _Line]]) -> bool:
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


def _line_pitch(lines: list[_Line]) -> float | None:
    """The usual distance between successive lines of a page (lower quartile: short pages have few body steps
    next to the big header/footer steps), None when there are too few lines."""
    tops = [ln.top for ln in lines if ln.top is not None]
    steps = sorted(abs(b - a) for a, b in zip(tops, tops[1:]) if abs(b - a) > 0.5)
    return steps[len(steps) // 4] if len(steps) >= 2 else None


def _set_apart(line: _Line, inward: _Line | None, pitch: float | None) -> bool:
    """A page number sits in the margin: further from the body than body lines are from each other."""
    if inward is None or pitch is None or line.top is None or inward.top is None:
        return True
    return abs(line.top - inward.top) > 1.3 * pitch


def _remove_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
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
        at_edge: dict[str, list[tuple[int, _Line]]] = {}
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
            same = [i for i, _ in hits]
            for i in same:
                bounds[i][edge] += 1 if edge == 0 else -1
            changed = True
        return changed

    for _ in range(HEADER_SCAN_LINES):
        bottom_changed = peel(1)  # footers first: page numbers are more often at the bottom
        top_changed = peel(0)
        if not (top_changed or bottom_changed):
            break
    return [lines[b[0] : b[1]] for lines, b in zip(pages, bounds)]


# ---------------------------------------------------------------- assembly
def _assemble(number: int, lines: list[_Line], landscape: bool = False) -> PdfPage:
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
