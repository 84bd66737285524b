"""Render small Japanese PDFs for tests, with reportlab's built-in (non-embedded) CID font.

Not a test module: helpers only. Every function writes ``path`` and returns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reportlab.lib.pagesizes import A4, landscape as _landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "HeiseiMin-W3"
SIZE = 10.5
MARGIN = 60.0
UNDERLINE_GAP = 1.5  # points between the baseline and the top of the underline rect
UNDERLINE_HEIGHT = 0.6

if FONT not in pdfmetrics.getRegisteredFontNames():
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _width(s: str, size: float = SIZE) -> float:
    return pdfmetrics.stringWidth(s, FONT, size)


def underline_flags(line: str, underline: Sequence[str]) -> list[bool]:
    flags = [False] * len(line)
    for needle in underline:
        if not needle:
            continue
        start = line.find(needle)
        while start != -1:
            for i in range(start, start + len(needle)):
                flags[i] = True
            start = line.find(needle, start + 1)
    return flags


def _draw_underlined(
    c: canvas.Canvas, x: float, y: float, text: str, flags: Sequence[bool], size: float = SIZE, style: str = "rect"
) -> None:
    """Draw ``text`` at (x, y) and underline each run of flagged chars: a filled 0.6pt rect (``style="rect"``,
    what Word exports), a stroked 0.6pt line (``style="line"``) or a row of 0.8pt dots (``style="dotted"``)."""
    c.setFont(FONT, size)
    c.drawString(x, y, text)
    i = 0
    while i < len(text):
        if not flags[i]:
            i += 1
            continue
        j = i
        while j < len(text) and flags[j]:
            j += 1
        x0 = x + _width(text[:i], size)
        x1 = x + _width(text[:j], size)
        if style == "dotted":
            dot = x0
            while dot < x1:
                c.rect(dot, y - UNDERLINE_GAP - UNDERLINE_HEIGHT, min(0.8, x1 - dot), UNDERLINE_HEIGHT, stroke=0, fill=1)
                dot += 2.0
        elif style == "line":
            c.setLineWidth(UNDERLINE_HEIGHT)
            c.line(x0, y - UNDERLINE_GAP - UNDERLINE_HEIGHT / 2, x1, y - UNDERLINE_GAP - UNDERLINE_HEIGHT / 2)
        else:
            c.rect(x0, y - UNDERLINE_GAP - UNDERLINE_HEIGHT, x1 - x0, UNDERLINE_HEIGHT, stroke=0, fill=1)
        i = j


def render_text_pdf(
    path: Path,
    text: str,
    *,
    header: str | None = "医療費助成 資料",
    page_numbers: bool = True,
    chars_per_line: int = 40,
    lines_per_page: int = 40,
    page_breaks: Sequence[int] = (),
    underline: Sequence[str] = (),
    landscape: bool = False,
    page_number_format: str = "- {n} -",
    underline_style: str = "rect",
) -> Path:
    """Render ``text`` like a word processor would: hard-wrapped lines, running header (with a header rule),
    page number "- N -" at the bottom, forced page breaks before the source line indexes in ``page_breaks`` or
    at a line that is exactly "\\f", and each string in ``underline`` underlined with a thin filled rect.
    ``header`` may contain "{page}"; ``page_number_format`` gets ``n`` (this page) and ``total`` (page count)."""
    path = Path(path)
    # lay out first (so that "n / total" can be printed), then draw
    pages: list[list[tuple[str, list[bool]]]] = [[]]
    breaks = set(page_breaks)
    for index, source in enumerate(text.split("\n")):
        if source == "\f" or (index in breaks and pages[-1]):
            if pages[-1]:
                pages.append([])
            if source == "\f":
                continue
        flags = underline_flags(source, underline)
        pieces = [(source[i : i + chars_per_line], flags[i : i + chars_per_line]) for i in range(0, len(source), chars_per_line)]
        for piece in pieces or [("", [])]:
            if len(pages[-1]) >= lines_per_page:
                pages.append([])
            pages[-1].append(piece)
    if len(pages) > 1 and not pages[-1]:
        pages.pop()
    total = len(pages)

    pagesize = _landscape(A4) if landscape else A4
    width, height = pagesize
    c = canvas.Canvas(str(path), pagesize=pagesize)
    top = height - MARGIN
    body_top = top - 2.5 * SIZE
    body_bottom = MARGIN + 2.5 * SIZE
    leading = min(SIZE * 1.5, (body_top - body_bottom) / max(lines_per_page, 1))
    for page_no, rows in enumerate(pages, start=1):
        c.setFont(FONT, SIZE)
        if header is not None:
            c.drawString(MARGIN, top, header.replace("{page}", str(page_no)))
            c.rect(MARGIN, top - 3.0, width - 2 * MARGIN, 0.5, stroke=0, fill=1)  # header rule
        if page_numbers:
            c.drawCentredString(width / 2, MARGIN, page_number_format.format(n=page_no, total=total))
        for row, (piece, piece_flags) in enumerate(rows):
            if piece:
                _draw_underlined(c, MARGIN, body_top - row * leading, piece, piece_flags, style=underline_style)
        c.showPage()
    c.save()
    return path


def write_two_column_slides(path: Path, slides: Sequence[tuple[str, Sequence[str], Sequence[str]]]) -> Path:
    """A landscape slide deck: per slide a title across the top, two columns of short lines on the same
    baselines (left column and right column), and "n / N" at the bottom right."""
    path = Path(path)
    width, height = _landscape(A4)
    c = canvas.Canvas(str(path), pagesize=(width, height))
    for n, (title, left, right) in enumerate(slides, start=1):
        c.setFont(FONT, 18)
        c.drawString(MARGIN, height - MARGIN, title)
        c.setFont(FONT, SIZE)
        for i, line in enumerate(left):
            c.drawString(MARGIN, height - MARGIN - 40 - i * 16, line)
        for i, line in enumerate(right):
            c.drawString(width / 2 + 20, height - MARGIN - 40 - i * 16, line)
        c.drawRightString(width - MARGIN, 30, f"{n} / {len(slides)}")
        c.showPage()
    c.save()
    return path


def write_rotated_pdf(path: Path, lines: Sequence[str], *, underline: Sequence[str] = ()) -> Path:
    """A portrait page with /Rotate 90: the viewer shows it turned a quarter, and pdfminer reports every char
    as not upright. The text reads normally once the page is shown rotated."""
    path = Path(path)
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setPageRotation(90)
    for i, line in enumerate(lines):
        _draw_underlined(c, MARGIN, A4[1] - MARGIN - 40 - i * 16, line, underline_flags(line, underline))
    c.showPage()
    c.save()
    return path


def write_vertical_pdf(path: Path, columns: Sequence[str]) -> Path:
    """縦書き: each string is a column of upright glyphs, top to bottom; columns run right to left."""
    path = Path(path)
    vname = FONT + "-V"
    if vname not in pdfmetrics.getRegisteredFontNames():
        vfont = UnicodeCIDFont(FONT, isVertical=True)
        vfont.name = vfont.fontName = vname  # the horizontal font already holds the plain name
        pdfmetrics.registerFont(vfont)
    width, height = A4
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont(vname, SIZE)
    for i, column in enumerate(columns):
        c.drawString(width - MARGIN - 30 - i * 18, height - MARGIN - 30, column)
    c.showPage()
    c.save()
    return path


def write_mixed_fonts_pdf(path: Path) -> Path:
    """Japanese (CID font) and Latin (Helvetica) on the same baselines; the Latin words are placed one by one
    with no space chars between them, as many PDF writers do; one Latin word is underlined."""
    path = Path(path)
    c = canvas.Canvas(str(path), pagesize=A4)
    y = 700.0
    x = MARGIN
    c.setFont(FONT, SIZE)
    c.drawString(x, y, "第1条　この規則は")
    x += _width("第1条　この規則は")
    for word in ("Health", "Insurance", "Act"):
        c.setFont("Helvetica", SIZE)
        c.drawString(x + 1.0, y, word)
        w = pdfmetrics.stringWidth(word, "Helvetica", SIZE)
        if word == "Insurance":
            c.rect(x + 1.0, y - UNDERLINE_GAP - UNDERLINE_HEIGHT, w, UNDERLINE_HEIGHT, stroke=0, fill=1)
        x += 1.0 + w + 0.28 * SIZE  # a word gap, but no space char
    c.setFont(FONT, SIZE)
    c.drawString(x, y, "に基づき定める。")
    c.showPage()
    c.save()
    return path


def write_landscape_table_pdf(path: Path, rows: Sequence[tuple[str, str]]) -> Path:
    """A landscape page holding a ruled two-column table (別表 style): each row must stay one line."""
    path = Path(path)
    width, height = _landscape(A4)
    c = canvas.Canvas(str(path), pagesize=(width, height))
    c.setFont(FONT, SIZE)
    row_h = 20.0
    top = height - MARGIN
    mid = width / 2
    for i, (a, b) in enumerate(rows):
        base = top - (i + 1) * row_h + 6
        c.drawString(MARGIN + 4, base, a)
        c.drawString(mid + 4, base, b)
    c.setLineWidth(0.5)
    for i in range(len(rows) + 1):
        c.line(MARGIN, top - i * row_h, width - MARGIN, top - i * row_h)
    for x in (MARGIN, mid, width - MARGIN):
        c.line(x, top, x, top - len(rows) * row_h)
    c.showPage()
    c.save()
    return path


def write_encrypted_pdf(path: Path) -> Path:
    path = Path(path)
    c = canvas.Canvas(str(path), pagesize=A4, encrypt="secret-password")
    c.setFont(FONT, SIZE)
    c.drawString(MARGIN, 700, "第一条 この文書は暗号化されている。")
    c.showPage()
    c.save()
    return path


def write_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """Pages with drawn shapes and an inline image only: no text layer at all."""
    path = Path(path)
    c = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(pages):
        c.setFillGray(0.85)
        c.rect(50, 50, 495, 740, stroke=0, fill=1)
        c.setFillGray(0.1)
        for k in range(30):
            c.rect(70, 750 - k * 22, 300 + (k * 37) % 150, 9, stroke=0, fill=1)
        c.showPage()
    c.save()
    return path


def write_truncated_pdf(path: Path) -> Path:
    """A valid multi-page PDF cut in half."""
    path = Path(path)
    full = path.with_name(path.stem + ".full.pdf")
    render_text_pdf(full, "\n".join(f"第{i}条 切り詰められた文書の本文である。" for i in range(1, 80)))
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_many_pages_pdf(path: Path, n: int) -> Path:
    path = Path(path)
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setPageCompression(1)
    for i in range(n):
        c.setFont(FONT, SIZE)
        kanji = "".join("〇一二三四五六七八九"[int(d)] for d in str(i + 1))
        c.drawString(MARGIN, 700, f"本文の{kanji}枚目。")  # distinct on every page (digits would be a running line)
        c.showPage()
    c.save()
    return path


DECOY_UNDERLINED = "助成の対象となる"


def write_decoy_pdf(path: Path) -> Path:
    """One page with many underline look-alikes and exactly one genuine underline (``DECOY_UNDERLINED``).

    Decoys: a header rule spanning the page under the header line; a table drawn with stroked grid lines whose
    bottom border sits tight under the cell text; a table of thin *filled* rects (Excel-style borders); a
    strike-through line through the middle of some chars; a stroked box around some chars; a box of four
    separate thin lines tight around a word; a thin rect well below a line (spacing rule)."""
    path = Path(path)
    width, height = A4
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont(FONT, SIZE)
    top = height - MARGIN
    # header + header rule
    c.drawString(MARGIN, top, "医療費助成 資料")
    c.rect(MARGIN, top - 3.0, width - 2 * MARGIN, 0.5, stroke=0, fill=1)

    y = top - 40
    # genuine underline inside a normal paragraph line
    line = "第一条 この制度は、" + DECOY_UNDERLINED + "患者を定める。"
    flags = underline_flags(line, [DECOY_UNDERLINED])
    _draw_underlined(c, MARGIN, y, line, flags)

    # strike-through through the middle of chars
    y -= 24
    line = "第二条 旧規定は削除する。"
    c.drawString(MARGIN, y, line)
    x0 = MARGIN + _width("第二条 ")
    x1 = MARGIN + _width("第二条 旧規定")
    c.setLineWidth(0.6)
    c.line(x0, y + SIZE * 0.35, x1, y + SIZE * 0.35)
    # a thin filled rect as a strike-through too
    c.rect(MARGIN + _width("第二条 旧規定は"), y + SIZE * 0.3, _width("削除"), 0.6, stroke=0, fill=1)

    # stroked box around some chars
    y -= 24
    line = "第三条 重要な語を枠で囲む。"
    c.drawString(MARGIN, y, line)
    bx0 = MARGIN + _width("第三条 ")
    bx1 = MARGIN + _width("第三条 重要な語")
    c.setLineWidth(0.5)
    c.rect(bx0 - 1.5, y - 3.0, bx1 - bx0 + 3.0, SIZE + 4.5, stroke=1, fill=0)

    # a box of four separate tight lines around a word
    y -= 24
    line = "第四条 別表に掲げる額とする。"
    c.drawString(MARGIN, y, line)
    bx0 = MARGIN + _width("第四条 ")
    bx1 = MARGIN + _width("第四条 別表")
    c.line(bx0 - 1, y - 2.0, bx1 + 1, y - 2.0)
    c.line(bx0 - 1, y + SIZE, bx1 + 1, y + SIZE)
    c.line(bx0 - 1, y - 2.0, bx0 - 1, y + SIZE)
    c.line(bx1 + 1, y - 2.0, bx1 + 1, y + SIZE)

    # table with stroked grid lines, bottom border tight under the text
    y -= 40
    rows = [("区分", "自己負担上限額"), ("一般", "一万円"), ("低所得", "二千五百円")]
    col_x = [MARGIN, MARGIN + 90, MARGIN + 250]
    row_h = SIZE + 4.0
    for r, (a, b) in enumerate(rows):
        base = y - r * row_h
        c.drawString(col_x[0] + 3, base, a)
        c.drawString(col_x[1] + 3, base, b)
    grid_top = y + SIZE
    for r in range(len(rows) + 1):
        gy = grid_top - r * row_h
        c.line(col_x[0], gy, col_x[-1], gy)
    for gx in col_x:
        c.line(gx, grid_top, gx, grid_top - len(rows) * row_h)

    # table of thin filled rects (Excel-style borders), borders 2pt below the baseline
    y -= 80
    rows = [("番号", "名称"), ("1", "特定医療費"), ("2", "療養費")]
    col_x = [MARGIN, MARGIN + 60, MARGIN + 220]
    row_h = SIZE + 5.0
    for r, (a, b) in enumerate(rows):
        base = y - r * row_h
        c.drawString(col_x[0] + 4, base, a)
        c.drawString(col_x[1] + 4, base, b)
    grid_top = y + SIZE + 3.0
    for r in range(len(rows) + 1):
        gy = y - 2.0 - (r - 1) * row_h if r else grid_top
        c.rect(col_x[0], gy - 0.5, col_x[-1] - col_x[0], 0.5, stroke=0, fill=1)
    grid_bottom = y - 2.0 - (len(rows) - 1) * row_h - 0.5
    for gx in col_x:
        c.rect(gx, grid_bottom, 0.5, grid_top - grid_bottom, stroke=0, fill=1)

    # a spacing rule: a thin rect spanning the text width well below a line (a section separator)
    y -= 70
    line = "第五条 この規則は公布の日から施行する。"
    c.drawString(MARGIN, y, line)
    c.rect(MARGIN, y - 9.0, width - 2 * MARGIN, 0.6, stroke=0, fill=1)
    # and a separator rule just under a short line, much wider than the text
    y -= 24
    c.drawString(MARGIN, y, "附則")
    c.rect(MARGIN, y - 2.1, width - 2 * MARGIN, 0.6, stroke=0, fill=1)

    c.drawCentredString(width / 2, MARGIN, "- 1 -")
    c.showPage()
    c.save()
    return path
