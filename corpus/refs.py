"""Cross-references between clauses, resolved once (at build time), never per request.

Recognised forms, as they appear in these documents:
- another document by name: 「実施要綱4（2）エ」, 「実施要綱5ウ」, 「実施要綱4(1)及び(2)」 (the second part reuses the
  clause number), where the name is the cited document's label;
- an item of the same Q&A: 「3-1によって算定された基準額」;
- a statute by its title or short name (``corpus.lawcite``): 「…番号の利用等に関する法律（平成25年法律第27号）第９条第２項」,
  「マイナンバー法の別表の40の項」, and a law named without a section but with the benefit it provides
  (「母子保健法（昭和40年法律第141号）の規定による養育医療」) -> the article that defines that term
  (母子保健法 第20条: 「…医療（以下「養育医療」という。）」) or is captioned by it (「（養育医療）」).
A reference is kept only when the cited clause exists, so a number that merely looks like an id never links.
Statutes are cited from the other documents only: law-to-law references are not resolved (at 4k laws and 200k
articles a name scan of every article would dominate the build).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from corpus.collection import Corpus
from corpus.lawcite import find_law_citations, fold_name, law_names
from corpus.model import Clause, ParsedDocument, clause_key

_SECTION = r"(\d{1,2})(?:\((\d{1,2})\))?([ア-ン])?"
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
            if target.document.kind == "law":  # statutes are matched by LawTargets
                continue
            label = _nfkc(target.document.label)
            if len(label) >= 2:
                by_label.setdefault(label, []).append(
                    (doc_id, target.document.edition, frozenset(c.section for c in target.clauses)))
        labels = sorted(by_label, key=len, reverse=True)
        pattern = re.compile("|".join(map(re.escape, labels))) if labels else None
        return cls(pattern, by_label)


_PROVIDED_BY = re.compile(r"^(?:の規定による|の規定に基づく|に基づく|による)")
_DEFINES = re.compile(r"以下「([^」]{2,20})」という")


class LawTargets:
    """The statutes of a corpus: their names (``lawcite.law_names``), their sections, and — built lazily, per law —
    the terms each article defines or is captioned by."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.names = law_names(corpus)
        self._terms: dict[str, dict[str, str]] = {}

    def section_key(self, law_id: str, section: str) -> str | None:
        try:
            c = self.corpus.clause(law_id, section)
        except Exception:  # unknown law or section: a reference that does not resolve is not kept
            return None
        return c.key

    def terms(self, law_id: str) -> dict[str, str]:
        """Defined term -> the key of the first article defining it (「以下「養育医療」という」), else captioned by it."""
        if law_id not in self._terms:
            terms: dict[str, str] = {}
            captions: dict[str, str] = {}
            for c in self.corpus.get(law_id).clauses:
                if c.kind != "article" or c.section.startswith("附則"):
                    continue
                for t in _DEFINES.findall(_nfkc(c.text)):
                    terms.setdefault(fold_name(t), c.key)
                cap = fold_name(c.heading).strip("()")
                if cap:
                    captions.setdefault(cap, c.key)
            self._terms[law_id] = {**captions, **terms}
        return self._terms[law_id]

    def refs_in(self, text: str) -> list[tuple[int, str]]:
        """(position, clause key) of each statute clause ``text`` cites."""
        found: list[tuple[int, str]] = []
        for cite in find_law_citations(text, self.names):
            if cite.section is not None:
                key = self.section_key(cite.law_id, cite.section)
                if key:
                    found.append((cite.start, key))
                continue
            after = fold_name(text[cite.end:cite.end + 80])
            after = re.sub(r"^\([^()]{0,60}\)", "", after)  # 「（昭和40年法律第141号）」
            m = _PROVIDED_BY.match(after)
            if not m:
                continue
            benefit = after[m.end():]
            terms = self.terms(cite.law_id)
            best = max((t for t in terms if benefit.startswith(t)), key=len, default=None)
            if best:
                found.append((cite.start, terms[best]))
        return found


def find_refs(clause: Clause, parsed: ParsedDocument, corpus: Corpus,
              targets: RefTargets | None = None, laws: LawTargets | None = None) -> tuple[str, ...]:
    targets = targets or RefTargets.of(corpus)
    text = _nfkc(clause.text)
    found: list[tuple[int, str]] = []  # (position in the text, key): references are listed in reading order
    if parsed.document.kind != "law" and laws is not None:
        found.extend(laws.refs_in(clause.text))
    if targets.pattern is not None:
        for m in targets.pattern.finditer(text):
            sections_here = _sections_after(text, m.end())
            for doc_id, edition, sections in targets.by_label[m.group()]:
                if doc_id == clause.doc_id:
                    continue
                found.extend((m.start(), clause_key(doc_id, edition, s)) for s in sections_here if s in sections)
    if parsed.document.kind == "qa":
        own = {c.section for c in parsed.clauses if c.kind == "item"}
        for m in _QA_ITEM.finditer(text):
            s = f"{int(m.group(1))}-{int(m.group(2))}"
            if s in own and s != clause.section:
                found.append((m.start(), clause_key(clause.doc_id, clause.edition, s)))
    return tuple(dict.fromkeys(key for _, key in sorted(found, key=lambda x: x[0])))


def resolve_refs(corpus: Corpus) -> Corpus:
    """The same corpus with every clause's ``refs`` filled in."""
    targets = RefTargets.of(corpus)
    laws = LawTargets(corpus)
    out = []
    for parsed in corpus:
        if parsed.document.kind == "law":  # statutes cite no document here (see the module note); kept as they are
            out.append(parsed)
            continue
        clauses = tuple(replace(c, refs=find_refs(c, parsed, corpus, targets, laws)) for c in parsed.clauses)
        out.append(ParsedDocument(parsed.document, clauses, parsed.text))
    return Corpus(out)
