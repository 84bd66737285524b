"""Text lines from a page's chars: duplicates dropped, chars clustered by baseline, spaces placed by gaps.

Chars are clustered by baseline (from the glyph matrix, so mixed fonts share a line); within a line chars are
ordered by x. A space is kept where the PDF has a space char (runs collapse to one; U+3000 is kept as is), and
inserted where the gap between two chars is wide (> 0.25 em between Latin chars, > 1 em when either side is a
CJK / full-width char), so Japanese text gets no spurious spaces.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Char = dict[str, Any]  # one of pdfplumber's chars (possibly turned: see ingest.pdf.rotation)


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    flags: tuple[bool, ...]  # per character of ``text``: underlined?
    top: float | None = None  # top of the line's chars on the page (None: unknown)


def is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def baseline(ch: Char) -> float:
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


def dedupe(chars: list[Char], tolerance: float = 1.0) -> list[Char]:
    """Drop chars that repeat the same text at (almost) the same place (fake bold, shadow text); linear time."""
    seen: dict[tuple[str, int, int], list[Char]] = {}
    out: list[Char] = []
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


def cluster_rows(chars: list[Char]) -> list[list[Char]]:
    """Group chars whose baselines lie within ~0.3 em of each other, top to bottom."""
    ordered = sorted(chars, key=baseline)
    rows: list[list[Char]] = []
    current: list[Char] = []
    ref = 0.0
    for ch in ordered:
        b = baseline(ch)
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


def build_line(chars: Sequence[Char], underlined: set[int]) -> Line:
    """The text of a row of chars, with a flag per character: is it among the ``underlined`` char ids?"""
    out: list[str] = []
    flags: list[bool] = []
    prev: Char | None = None
    pending_space = False
    for ch in chars:
        t = ch["text"]
        if t.isspace() and t != "\u3000":
            pending_space = True
            continue
        if prev is not None:
            gap = float(ch["x0"]) - float(prev["x1"])
            em = min(float(ch.get("size") or 10), float(prev.get("size") or 10))
            wide = is_wide(t[0]) or is_wide(prev["text"][-1])
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
    return Line(text[start:end], tuple(flags[start:end]), top)
