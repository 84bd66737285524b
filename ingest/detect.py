"""Reading a document's metadata from its own text: kind, title, edition, issue and effective dates."""

from __future__ import annotations

import datetime as dt
import re

from ingest.clean import nfkc, unwrap
from corpus.dates import find_dates
from ingest.structure import Line, plain

HEAD_LINES = 15
_EDITION = re.compile(r"[(（]\s*第\s*(\d{1,3})\s*版\s*[)）]|第\s*(\d{1,3})\s*版")
_EFFECTIVE = re.compile(r"から(?:適用|施行)")
_QA_ITEM = re.compile(r"^\d{1,2}\s*[-‐−－]\s*\d{1,2}[\s\u3000]")
_YOUKOU_TOP = re.compile(r"^[1１][\s\u3000]+\S{1,20}$")


def _head(lines: list[Line]) -> list[str]:
    return [plain(ln.text) for ln in lines if ln.text][:HEAD_LINES]


def detect_edition(lines: list[Line]) -> tuple[int, str] | None:
    for text in _head(lines):
        m = _EDITION.search(nfkc(text))
        if m:
            n = int(m.group(1) or m.group(2))
            return n, f"第{n}版"
    return None


def detect_dates(lines: list[Line]) -> tuple[dt.date | None, dt.date | None]:
    """(issued, effective): the first date in the head; a date followed by 「から適用/施行」 anywhere early."""
    # The issue date stands alone on a line of the head (「令和8年3月9日」), unlike dates quoted in prose.
    issued = next((d for t in _head(lines) if len(t) <= 16 for _, d in find_dates(t)), None)
    effective = None
    early = nfkc(unwrap(plain(ln.text) for ln in lines[:80]))
    for pos, d in find_dates(early):
        if _EFFECTIVE.match(early, early.find("日", pos) + 1):
            effective = d
            break
    return issued, effective


def detect_kind(lines: list[Line], landscape: bool = False) -> str | None:
    texts = [nfkc(plain(ln.text)) for ln in lines if ln.text]
    head = "\n".join(texts[:HEAD_LINES])
    items = sum(1 for t in texts if _QA_ITEM.match(t))
    if items >= 2 and ("Q&A" in head.replace(" ", "") or "Q＆A" in head or items >= 5):
        return "qa"
    if "要綱" in head and any(_YOUKOU_TOP.match(t) for t in texts):
        return "youkou"
    if "事務連絡" in head:
        return "notice"
    if landscape:
        return "slides"
    return None


def detect_title(lines: list[Line]) -> str:
    """The first paragraph of the head, joined ("令和8年度 … に関するQ & A")."""
    para: list[str] = []
    for ln in lines[:HEAD_LINES * 2]:
        t = plain(ln.text)
        if not t:
            if para:
                break
            continue
        if _EDITION.fullmatch(nfkc(t).strip()) or find_dates(t) and len(t) < 16:
            break
        para.append(t)
    return unwrap(para).replace("\n", " ")[:200]


def law_format(head: bytes, suffix: str = "") -> str | None:
    """"law_html" for an HTML page (e-Gov law pages), "law_md" for Markdown (law front matter expected; one without
    it is refused by the parser with a clear message), None for anything else (text and PDF documents)."""
    h = head.lstrip(b"\xef\xbb\xbf").lstrip()[:200].lower()
    if h.startswith(b"<html") or h.startswith(b"<!doctype html") or suffix.lower() in (".html", ".htm"):
        return "law_html"
    if suffix.lower() == ".md" or (h.startswith(b"---") and b"law_id" in head[:2000]):
        return "law_md"
    return None
