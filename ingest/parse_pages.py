"""Slides and notices: one section per slide/page, cited by page number ("p3").

From a PDF the pages are real. From extracted text they are guessed: a form feed, two or more blank lines, or a
line indented by exactly one space (how this extraction marks a new page) starts a page; fragments too short to
stand alone are merged into the next page so every section has enough text to be found and cited.
"""

from __future__ import annotations

import re

from ingest.clean import clean_line
from ingest.structure import Line, RawClause, plain

_PAGE_START = re.compile(r"^ (?=\S)")
_LONE_NUMBER = re.compile(r"^[\d０-９]{1,3}$")
MIN_PAGE_CHARS = 40
_MAX_HEADING = 60


def guess_pages(raw_text: str) -> list[Line]:
    """Cleaned lines of an extracted text, numbered with the page each is guessed to be on."""
    lines: list[Line] = []
    page, blanks = 1, 0
    raws = raw_text.replace("\r\n", "\n").split("\n")
    indented = [bool(_PAGE_START.match(r)) for r in raws] + [False]
    for i, raw in enumerate(raws):
        # A run of indented lines is a table, not a page start; only a lone indented line opens a page.
        lone_indent = indented[i] and not indented[i - 1] and not indented[i + 1] if i else False
        new_page = "\f" in raw or blanks >= 2 or lone_indent
        text = clean_line(raw)
        if not text:
            blanks += 1
            continue
        if new_page and lines:
            page += 1
        blanks = 0
        lines.append(Line(text, page))
    return lines


def parse_pages(lines: list[Line], name: str) -> list[RawClause]:
    pages: dict[int, list[Line]] = {}
    for ln in lines:
        pages.setdefault(ln.page or 1, []).append(ln)
    chunks: list[list[Line]] = []
    carry: list[Line] = []
    for number in sorted(pages):
        body = [ln for ln in pages[number] if not _LONE_NUMBER.match(plain(ln.text))]  # slide numbers
        body = carry + body
        if sum(len(plain(ln.text)) for ln in body) < MIN_PAGE_CHARS:
            carry = body
            continue
        chunks.append(body)
        carry = []
    if carry:
        if chunks:
            chunks[-1].extend(carry)
        else:
            chunks.append(carry)
    raws: list[RawClause] = []
    for chunk in chunks:
        if not chunk:
            continue
        number = min(ln.page or 1 for ln in chunk)
        heading = next((plain(ln.text) for ln in chunk if len(plain(ln.text)) >= 2), plain(chunk[0].text))
        raws.append(RawClause(f"p{number}", "page", None, heading[:_MAX_HEADING], chunk))
    return raws
