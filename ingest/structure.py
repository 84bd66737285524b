"""What the structure parsers produce, and how it becomes cited clauses with offsets.

Parsers see ``Line``s (cleaned text plus the PDF page it came from) and return ``RawClause``s. Underlined runs
from PDFs travel through cleaning inside the text as two private-use marks, so no offset bookkeeping is needed
while lines are joined; ``assemble`` turns the marks into spans and removes them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from corpus.model import Clause, ClauseKind, Document, ParsedDocument, Span
from ingest.clean import MARK_END, MARK_START, unwrap



@dataclass(frozen=True, slots=True)
class Line:
    text: str
    page: int | None = None


@dataclass(slots=True)
class RawClause:
    section: str
    kind: ClauseKind
    parent: str | None
    heading: str
    lines: list[Line] = field(default_factory=list)  # the body; for Q&A items, the question lines
    answer_lines: list[Line] = field(default_factory=list)
    head: str | None = None  # a heading line shown as the clause's first paragraph ("１ 目的")


def plain(text: str) -> str:
    return text.replace(MARK_START, "").replace(MARK_END, "")


def drop_prefix(line: str, n_plain: int) -> str:
    """``line`` without the characters that make up the first ``n_plain`` characters of ``nfkc(plain(line))``,
    the form the parsers match numbers on (marks do not count, and are kept). Counted in NFKC characters because
    NFKC can lengthen a number: "⑴" is "(1)", "㉑" is "21".

    An underline that opens the line ("1-4 新しい問い…" underlined as a whole, as ministries mark a new item) starts
    inside the dropped prefix: its start mark is carried over to the rest, or the run would lose its start and
    vanish."""
    seen = 0
    open_mark = False
    for i, ch in enumerate(line):
        if seen >= n_plain:
            return (MARK_START if open_mark else "") + line[i:]
        if ch == MARK_START:
            open_mark = True
        elif ch == MARK_END:
            open_mark = False
        else:
            seen += len(unicodedata.normalize("NFKC", ch))
    return ""


def _extract_marks(text: str, offset: int) -> tuple[str, list[Span]]:
    out: list[str] = []
    spans: list[Span] = []
    start: int | None = None
    n = 0
    for ch in text:
        if ch == MARK_START:
            start = n
        elif ch == MARK_END:
            if start is not None and n > start:
                spans.append(Span(offset + start, offset + n))
            start = None
        else:
            out.append(ch)
            n += 1
    if start is not None and n > start:
        spans.append(Span(offset + start, offset + n))
    return "".join(out), spans


def _pages(lines: list[Line]) -> tuple[int, ...]:
    return tuple(sorted({ln.page for ln in lines if ln.page is not None}))


def assemble(document: Document, raws: list[RawClause]) -> ParsedDocument:
    """Cited clauses with offsets into one cleaned document text (clause texts joined by blank lines)."""
    parts: list[str] = []
    clauses: list[Clause] = []
    pos = 0
    for order, raw in enumerate(raws):
        body = unwrap(ln.text for ln in raw.lines)
        if raw.head:
            body = f"{raw.head}\n{body}" if body else raw.head
        answer = unwrap(ln.text for ln in raw.answer_lines) if raw.answer_lines else None
        marked = body if answer is None else f"{body}\n{answer}"
        text, spans = _extract_marks(marked, 0)
        answer_plain = plain(answer) if answer is not None else None
        start = pos
        parts.append(text)
        pos += len(text) + 2
        clauses.append(Clause(
            doc_id=document.id,
            edition=document.edition,
            section=raw.section,
            kind=raw.kind,
            parent=raw.parent,
            heading=plain(raw.heading).strip(),
            text=text,
            citation=document.citation(raw.section).render(),
            answer=answer_plain,
            order=order,
            start=start,
            end=start + len(text),
            pages=_pages(raw.lines + raw.answer_lines),
            changed_spans=tuple(spans),
        ))
    return ParsedDocument(document=document, clauses=tuple(clauses), text="\n\n".join(parts))
