"""Turned text and vertical writing: map chars and shapes into a frame where the text reads left to right.

Rotated pages (/Rotate, or text drawn turned) are read in the direction most of their text runs; vertical writing
(縦書き: upright glyphs stacked top to bottom) is read column by column, right to left.
"""

from __future__ import annotations

from typing import Any

from ingest.pdf.lines import Char


def direction(ch: Char) -> int:
    """Which way the text advances on the page: 0 left-to-right, 90 downwards, 180 right-to-left (upside down),
    270 upwards (quarter turns as shown in pdfplumber's top-down coordinates)."""
    m = ch.get("matrix")
    if m is None:
        return 0 if ch.get("upright", True) else 90
    a, b = float(m[0]), float(m[1])
    if abs(a) >= abs(b):
        return 0 if a > 0 else 180
    return 90 if b < 0 else 270


def is_vertical_writing(chars: list[Char]) -> bool:
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


def turn_box(obj: dict[str, Any], turn: int) -> dict[str, Any]:
    """A copy of a char or shape with its box turned (see ``_turn``)."""
    x0, top, x1, bottom = _turn(float(obj["x0"]), float(obj["top"]), float(obj["x1"]), float(obj["bottom"]), turn)
    return {**obj, "x0": x0, "top": top, "x1": x1, "bottom": bottom}


def turn_char(ch: Char, turn: int, mb_x0: float, vertical: bool) -> Char:
    """A turned copy of a char, with its baseline (``_base``) in the turned frame."""
    new = turn_box(ch, turn)
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
