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
from dataclasses import dataclass, replace

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


@dataclass(frozen=True, slots=True)
class RefTargets:
    """Built once per corpus: one pattern matching every document label (longest first), and what each names.

    One scan of a clause's text finds all named documents, so resolving stays linear in the number of clauses
    (looping over every document per clause was quadratic: ~28 min at 100k clauses and 4k documents)."""

    pattern: re.Pattern[str] | None
    by_label: dict[str, list[tuple[str, int, frozenset[str]]]]

    @classmethod
    def of(cls, corpus: Corpus) -> RefTargets:
        by_label: dict[str, list[tuple[str, int, frozenset[str]]]] = {}
        for doc_id in corpus.doc_ids:
            target = corpus.get(doc_id)
            label = _nfkc(target.document.label)
            if len(label) >= 2:
                by_label.setdefault(label, []).append(
                    (doc_id, target.document.edition, frozenset(c.section for c in target.clauses)))
        labels = sorted(by_label, key=len, reverse=True)
        pattern = re.compile("|".join(map(re.escape, labels))) if labels else None
        return cls(pattern, by_label)


def find_refs(clause: Clause, parsed: ParsedDocument, corpus: Corpus,
              targets: RefTargets | None = None) -> tuple[str, ...]:
    targets = targets or RefTargets.of(corpus)
    text = _nfkc(clause.text)
    found: list[str] = []
    if targets.pattern is not None:
        for m in targets.pattern.finditer(text):
            sections_here = _sections_after(text, m.end())
            for doc_id, edition, sections in targets.by_label[m.group()]:
                if doc_id == clause.doc_id:
                    continue
                found.extend(clause_key(doc_id, edition, s) for s in sections_here if s in sections)
    if parsed.document.kind == "qa":
        own = {c.section for c in parsed.clauses if c.kind == "item"}
        for m in _QA_ITEM.finditer(text):
            s = f"{int(m.group(1))}-{int(m.group(2))}"
            if s in own and s != clause.section:
                found.append(clause_key(clause.doc_id, clause.edition, s))
    return tuple(dict.fromkeys(found))


def resolve_refs(corpus: Corpus) -> Corpus:
    """The same corpus with every clause's ``refs`` filled in."""
    targets = RefTargets.of(corpus)
    out = []
    for parsed in corpus:
        clauses = tuple(replace(c, refs=find_refs(c, parsed, corpus, targets)) for c in parsed.clauses)
        out.append(ParsedDocument(parsed.document, clauses, parsed.text))
    return Corpus(out)
