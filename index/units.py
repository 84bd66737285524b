"""Chunking: which text of each clause goes into the keyword index and which into the dense index.

A clause is the unit of citation, so the keyword side indexes one unit per clause: its text plus context (the
document label and the headings of its ancestors — a 要綱 sub-item such as 4(1)コ means little without "対象となる
医療費助成 / 公費負担医療"). Parent clauses also carry their children's headings, so "対象となる公費負担医療の一覧"
finds 4(1). The dense side embeds passages of at most ``max_chars`` characters (e5 reads 512 tokens); a long clause
becomes several overlapping passages, and a clause scores as its best passage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from corpus.model import Clause, Document, ParsedDocument

SKIP_KINDS = frozenset({"group"})  # Q&A group titles ("1. スケジュール") only repeat their items' subject
MIN_PREAMBLE_CHARS = 80  # a Q&A title page is not an answer to anything
# A statute is searched by article (条), the unit its caption names; its paragraphs (項) and items (号) are child
# clauses for citation lookup and display only (indexing them too would triple the rows at 200k articles and
# split an article's votes). A 別表 is searched by row when it has numbered rows (「別表40の項」).
# The 附則 of later amending acts (「附則(平成26年法律第50号)第1条」: commencement dates, transitional measures)
# stay citable but are not searched: they outnumber and outvote the articles people ask about.
LAW_CHILD_KINDS = frozenset({"paragraph", "law_item"})
AMENDMENT_SUPPL = ("附則(", "附則[")


@dataclass(frozen=True, slots=True)
class ChunkConfig:
    context: bool = True  # keyword unit: prefix ancestors' headings and the document label
    children_headings: bool = True  # keyword unit: parents list their children's headings
    dense_context: bool = True  # the same two choices for the embedded passages, measured separately
    dense_children: bool = True
    heading_passages: bool = True  # also embed heading/question alone: user questions resemble FAQ questions
    heading_boost: int = 2  # extra copies of the heading/question in the keyword unit (a BM25F-style field weight)
    max_chars: int = 480
    stride: int = 360

    def describe(self) -> dict[str, object]:
        return {"context": self.context, "children_headings": self.children_headings,
                "dense_context": self.dense_context, "dense_children": self.dense_children,
                "heading_boost": self.heading_boost, "heading_passages": self.heading_passages,
                "max_chars": self.max_chars, "stride": self.stride}


def indexable(c: Clause, has_rows: bool = False) -> bool:
    if c.kind in SKIP_KINDS or c.kind in LAW_CHILD_KINDS or (c.kind == "table" and has_rows):
        return False
    if c.kind in ("article", "table", "table_row") and c.section.startswith(AMENDMENT_SUPPL):
        return False
    return not (c.kind == "preamble" and len(c.text) < MIN_PREAMBLE_CHARS)


def _context(doc: Document, c: Clause, by_section: dict[str, Clause]) -> str:
    chain: list[str] = []
    parent = c.parent
    while parent and parent in by_section:
        p = by_section[parent]
        chain.append(p.heading)
        parent = p.parent
    label = doc.label if c.kind != "page" else f"{doc.label} {doc.title}"
    if doc.kind == "law":  # 「難病法 第6条」: the citation itself, so the law's short name and the article match
        label = c.citation
    return " / ".join([label, *reversed(chain)])


def clause_texts(parsed: ParsedDocument, config: ChunkConfig) -> Iterable[tuple[Clause, str, list[str]]]:
    """(clause, keyword-unit text, dense passages) for each indexable clause of one document edition."""
    by_section = {c.section: c for c in parsed.clauses}
    children: dict[str, list[str]] = {}
    for c in parsed.clauses:
        if c.parent and c.heading:  # a law's paragraphs and items have no headings to add
            children.setdefault(c.parent, []).append(c.heading)
    # a 別表's rows have no headings either: whether it has rows is whether any clause names it as parent
    parents = {c.parent for c in parsed.clauses if c.parent}
    for c in parsed.clauses:
        if not indexable(c, c.kind == "table" and c.section in parents):
            continue
        context = _context(parsed.document, c, by_section)
        kids = "\n".join(children.get(c.section, []))
        keyword = [context] if config.context else []
        keyword += [c.text, *[c.heading] * config.heading_boost]
        if config.children_headings and kids:
            keyword.append(kids)
        dense = [context] if config.dense_context else []
        dense.append(c.text)
        if config.dense_children and kids:
            dense.append(kids)
        dense_passages = passages("\n".join(dense), config)
        if config.heading_passages and c.heading and c.heading != c.text:
            dense_passages.append(f"{context}\n{c.heading}" if config.dense_context else c.heading)
        yield c, "\n".join(keyword), dense_passages


def passages(text: str, config: ChunkConfig) -> list[str]:
    """Overlapping windows of ``text`` for the embedding model."""
    if len(text) <= config.max_chars:
        return [text]
    out = []
    start = 0
    while start < len(text):
        out.append(text[start:start + config.max_chars])
        if start + config.max_chars >= len(text):
            break
        start += config.stride
    return out
