"""An in-memory view of the stored corpus: editions per document, the edition in force on a date, clause lookup."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from corpus.errors import ClauseNotFound, DocumentNotFound, EditionNotFound
from corpus.model import Clause, Document, ParsedDocument
from corpus.sections import normalize_section


class Corpus:
    def __init__(self, docs: Iterable[ParsedDocument]) -> None:
        self._by_doc: dict[str, list[ParsedDocument]] = {}
        for d in docs:
            self._by_doc.setdefault(d.document.id, []).append(d)
        for editions in self._by_doc.values():
            editions.sort(key=lambda p: p.document.edition)

    def __iter__(self) -> Iterator[ParsedDocument]:
        for doc_id in sorted(self._by_doc):
            yield from self._by_doc[doc_id]

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_doc.values())

    @property
    def doc_ids(self) -> list[str]:
        return sorted(self._by_doc)

    def editions(self, doc_id: str) -> list[ParsedDocument]:
        try:
            return list(self._by_doc[doc_id])
        except KeyError:
            known = ", ".join(self.doc_ids) or "(none: run `regkb ingest`)"
            raise DocumentNotFound(f"unknown document {doc_id!r}", f"known documents: {known}") from None

    def get(self, doc_id: str, edition: int | None = None) -> ParsedDocument:
        """The given edition, or the latest one."""
        editions = self.editions(doc_id)
        if edition is None:
            return editions[-1]
        for p in editions:
            if p.document.edition == edition:
                return p
        have = ", ".join(str(p.document.edition) for p in editions)
        raise EditionNotFound(f"{doc_id} has no edition {edition}", f"editions available: {have}")

    def in_force(self, doc_id: str, as_of: dt.date) -> ParsedDocument | None:
        """The edition in force on ``as_of``: the latest whose date is not after it. An undated edition is never
        taken to be in force on a date — nothing says it was (the 令和5年度 slides are not in force in 2020)."""
        chosen = None
        for p in self.editions(doc_id):
            d = p.document.date
            if d is not None and d <= as_of:
                chosen = p
        return chosen

    def current(self, doc_id: str, today: dt.date | None = None) -> ParsedDocument:
        """The edition in force today (現行): the one dated on or before today, else the latest (an undated
        document's latest edition is taken as current; so is the first edition of a document dated later)."""
        return self.in_force(doc_id, today or dt.date.today()) or self.get(doc_id)

    def out_of_date_range(self, as_of: dt.date, doc_ids: Iterable[str] | None = None) -> list[tuple[Document, str]]:
        """The documents an ``as_of`` search leaves out, each with why: "undated" (no edition has a date, so when it
        was in force is unknown) or "later" (its first edition is dated after ``as_of``)."""
        out: list[tuple[Document, str]] = []
        for doc_id in doc_ids if doc_ids is not None else self.doc_ids:
            if self.in_force(doc_id, as_of) is not None:
                continue
            editions = self.editions(doc_id)
            dated = any(p.document.date is not None for p in editions)
            out.append((editions[-1].document, "later" if dated else "undated"))
        return out

    def clause(self, doc_id: str, section: str, edition: int | None = None) -> Clause:
        parsed = self.get(doc_id, edition)
        c = parsed.clause(normalize_section(section))  # the first of that section (read alone where lazy)
        if c is not None:
            return c
        raise ClauseNotFound(
            f"{doc_id} (edition {parsed.document.edition}) has no section {section!r}",
            f"list them with `regkb clauses {doc_id}`",
        )

    def all_clauses(self) -> Iterator[Clause]:
        for p in self:
            yield from p.clauses
