"""Cross-references between clauses, resolved once (at build time), never per request.

Recognised forms, as they appear in these documents:
- another document by name: 「実施要綱4（2）エ」, 「実施要綱5ウ」, 「実施要綱4(1)及び(2)」 (the second part reuses the
  clause number), where the name is the cited document's label;
- an item of the same Q&A: 「3-1によって算定された基準額」.
A reference is kept only when the cited clause exists, so a number that merely looks like an id never links.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from corpus.collection import Corpus
from corpus.model import Clause, ParsedDocument, clause_key

_SECTION = r"(\d{1,2})(?:\((\d{1,2})\))?([ア-ン])?"
_AND_MORE = r"(?:(?:及び|、|・|並びに)\((\d{1,2})\)([ア-ン])?)*"
_QA_ITEM = re.compile(r"(?<![\d./-])(\d{1,2})-(\d{1,2})(?![\d/])")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _sections_after(text: str, start: int) -> list[str]:
    """Section ids written right after a document name at ``start`` ("4(1)及び(2)" -> ["4(1)", "4(2)"])."""
    m = re.compile(_SECTION).match(text, start)
    if not m:
        return []
    top, paren, kana = m.group(1), m.group(2), m.group(3)
    out = [top + (f"({paren})" if paren else "") + (kana or "")]
    more = re.compile(r"(?:及び|、|・|並びに)\((\d{1,2})\)([ア-ン])?")
    pos = m.end()
    while (n := more.match(text, pos)) is not None:
        out.append(f"{top}({n.group(1)})" + (n.group(2) or ""))
        pos = n.end()
    return out


def find_refs(clause: Clause, parsed: ParsedDocument, corpus: Corpus) -> tuple[str, ...]:
    text = _nfkc(clause.text)
    found: list[str] = []
    for doc_id in corpus.doc_ids:
        target = corpus.get(doc_id)
        label = _nfkc(target.document.label)
        if doc_id == clause.doc_id or len(label) < 2:
            continue
        sections = {c.section for c in target.clauses}
        for m in re.finditer(re.escape(label), text):
            for s in _sections_after(text, m.end()):
                if s in sections:
                    found.append(clause_key(doc_id, target.document.edition, s))
    if parsed.document.kind == "qa":
        own = {c.section for c in parsed.clauses if c.kind == "item"}
        for m in _QA_ITEM.finditer(text):
            s = f"{int(m.group(1))}-{int(m.group(2))}"
            if s in own and s != clause.section:
                found.append(clause_key(clause.doc_id, clause.edition, s))
    return tuple(dict.fromkeys(found))


def resolve_refs(corpus: Corpus) -> Corpus:
    """The same corpus with every clause's ``refs`` filled in."""
    out = []
    for parsed in corpus:
        clauses = tuple(replace(c, refs=find_refs(c, parsed, corpus)) for c in parsed.clauses)
        out.append(ParsedDocument(parsed.document, clauses, parsed.text))
    return Corpus(out)
