"""PDF text extraction (pdfplumber): page text in reading order, running headers/footers removed, underlines found.

The text of each page is built here from pdfplumber's chars (not ``extract_text``) so that every character of
the returned text maps back to the chars it came from; that is what makes the underline ranges exact.

Rules, in short:

* Lines: upright chars are clustered by baseline; within a line chars are ordered by x. A space is kept where the
  PDF has a space char, and inserted where the gap between two chars is wide (> 0.25 em between Latin chars,
  > 1 em when either side is a CJK / full-width char), so Japanese text gets no spurious spaces.
* Landscape pages (slides) with two columns: a vertical gutter crossed by few lines splits the lines; runs of
  lines that do not cross it are read left column first, then right column.
* Headers/footers: among the first/last 3 lines of each page, a line is dropped when it is a page number
  ("- 3 -", "3 / 8", "（３）", "P.3", "3頁") or when the same line (digits removed) starts/ends at least 60% of
  the pages (and at least 3 pages).
* Underlines: thin horizontal rules (filled rects or rect edges ≤ 1.5 pt high, stroked lines ≤ 2 pt wide) whose
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


# ---------------------------------------------------------------- tunables
HEADER_SCAN_LINES = 3  # how many lines at the top/bottom of a page can be a running header/footer
REPEAT_SHARE = 0.6  # a header/footer repeats on at least this share of the pages ...
REPEAT_MIN_PAGES = 3  # ... and on at least this many pages
RULE_MAX_THICKNESS = 1.5  # filled rect height / rect-edge spacing for a rule (points)
LINE_MAX_WIDTH = 2.0  # stroke width for a stroked line to count as a rule
RULE_MIN_COVERAGE = 0.75  # share of the rule's length that the line's chars must cover
ENDPOINT_TOLERANCE = 2.0  # a vertical rule this close to a rule's end makes it a border

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
    try:
        with pdfplumber.open(path) as pdf:
            count = _page_count(pdf)
            if count is not None and count > max_pages:
                raise BadPdf(name, f"too many pages ({count} > max_pages={max_pages})", "split the PDF or raise max_pages")
            for page in pdf.pages:
                if len(pages_raw) >= max_pages:
                    raise BadPdf(name, f"too many pages (more than max_pages={max_pages})", "split the PDF or raise max_pages")
                try:
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
    result = [_assemble(number, lines) for number, lines in enumerate(pages_lines, start=1)]
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


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _baseline(ch: dict[str, Any]) -> float:
    """The char's baseline in pdfplumber's top-down coordinates (falls back to its bottom)."""
    m = ch.get("matrix")
    if m is not None and ch.get("upright", True):
        try:
            return float(ch["bottom"]) - (float(m[5]) - float(ch["y0"]))
        except (TypeError, ValueError, IndexError, KeyError):
            pass
    return float(ch["bottom"])


def _page_lines(page: Any) -> list[_Line]:
    chars = _dedupe([c for c in page.chars if c.get("text")])
    if not chars:
        return []
    upright = [c for c in chars if c.get("upright", True)]
    if len(upright) < len(chars) / 2:
        # mostly rotated / vertical writing: let pdfplumber order it, no underline detection
        text = page.extract_text(x_tolerance=1.5, y_tolerance=3)
        return [_Line(t, [False] * len(t)) for t in (s.strip() for s in text.split("\n")) if t]

    rows = _cluster_rows(upright)
    rules = _rules(page)
    flags_by_id = _match_rules(rows, rules, _verticals(page)) if rules else set()

    landscape = float(page.width) > float(page.height)
    segments: list[list[dict[str, Any]]]
    gutter = _find_gutter(rows, float(page.width)) if landscape else None
    if gutter is None:
        segments = rows
    else:
        segments = _order_columns(rows, gutter)
    lines = [_build_line(seg, flags_by_id) for seg in segments]
    return [ln for ln in lines if ln.text]


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
    return _Line(text[start:end], flags[start:end])


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


def _find_gutter(rows: list[list[dict[str, Any]]], width: float) -> float | None:
    if len(rows) < 4:
        return None
    spans = [_segments(r) for r in rows]
    best: tuple[int, float, float] | None = None
    x = 0.25 * width
    while x <= 0.75 * width:
        crossing = sum(1 for ss in spans if any(a < x < b for a, b in ss))
        left = sum(1 for ss in spans if any(b <= x for a, b in ss))
        right = sum(1 for ss in spans if any(a >= x for a, b in ss))
        both = sum(1 for ss in spans if any(b <= x for a, b in ss) and any(a >= x for a, b in ss))
        if left >= 3 and right >= 3 and both >= 2 and crossing <= 0.2 * len(rows):
            key = (crossing, abs(x - width / 2), x)
            if best is None or key < best:
                best = key
        x += 4.0
    return None if best is None else best[2]


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


def _rules(page: Any) -> list[_Rule]:
    """Thin horizontal rules on the page (candidates for underlines)."""
    rules: list[_Rule] = []
    for r in page.rects:
        h = float(r["bottom"]) - float(r["top"])
        w = float(r["x1"]) - float(r["x0"])
        if h <= RULE_MAX_THICKNESS and w > 1.0 and (r.get("fill") or r.get("stroke")):
            rules.append(_Rule(float(r["x0"]), float(r["x1"]), (float(r["top"]) + float(r["bottom"])) / 2))
    for ln in page.lines:
        h = float(ln["bottom"]) - float(ln["top"])
        w = float(ln["x1"]) - float(ln["x0"])
        lw = float(ln.get("linewidth") or 0)
        if h <= 0.5 and w > 1.0 and lw <= LINE_MAX_WIDTH:
            rules.append(_Rule(float(ln["x0"]), float(ln["x1"]), (float(ln["top"]) + float(ln["bottom"])) / 2))
    return rules


def _verticals(page: Any) -> list[tuple[float, float, float]]:
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


def _remove_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    n = len(pages)
    threshold = max(REPEAT_MIN_PAGES, REPEAT_SHARE * n)
    top_counts: Counter[str] = Counter()
    bottom_counts: Counter[str] = Counter()
    for lines in pages:
        top_counts.update({_header_key(ln.text) for ln in lines[:HEADER_SCAN_LINES]})
        bottom_counts.update({_header_key(ln.text) for ln in lines[-HEADER_SCAN_LINES:]})
    repeated_top = {k for k, v in top_counts.items() if v >= threshold and k} if n >= REPEAT_MIN_PAGES else set()
    repeated_bottom = {k for k, v in bottom_counts.items() if v >= threshold and k} if n >= REPEAT_MIN_PAGES else set()

    out: list[list[_Line]] = []
    for lines in pages:
        start, end = 0, len(lines)
        while start < end and start < HEADER_SCAN_LINES and (
            _is_page_number(lines[start].text) or _header_key(lines[start].text) in repeated_top
        ):
            start += 1
        while end > start and len(lines) - end < HEADER_SCAN_LINES and (
            _is_page_number(lines[end - 1].text) or _header_key(lines[end - 1].text) in repeated_bottom
        ):
            end -= 1
        out.append(lines[start:end])
    return out


# ---------------------------------------------------------------- assembly
def _assemble(number: int, lines: list[_Line]) -> PdfPage:
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
    return PdfPage(number=number, text=text, underlined=tuple(ranges))
