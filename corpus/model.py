"""The data model: documents, their editions, clauses and citations.

Plain frozen dataclasses with JSON round-trips; this package imports no heavy library so that every other
layer (ingest, index, api, eval) can depend on it cheaply.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

# The kinds of document, in one place: the type, the tuple (CLI help, API parameter) and two names for each.
DocKind = Literal["youkou", "qa", "notice", "slides", "law"]
DOC_KINDS: tuple[DocKind, ...] = get_args(DocKind)
# Two names per kind that differ on purpose:
# - DEFAULT_LABELS: the citation label a new document of that kind gets when nothing names it (a document's own
#   label, and a new edition's base document's, win): 「実施要綱 4(2)エ」, 「資料 p3」. A statute is labelled by its
#   own name (ingest/law_*.py), so "law" has none.
# - KIND_NAMES: the kind as a category, on the pages' badges: 「要綱」, 「通知・事務連絡」 (notices and 通知 alike).
DEFAULT_LABELS: dict[str, str] = {"qa": "Q&A", "youkou": "実施要綱", "notice": "事務連絡", "slides": "資料"}
KIND_NAMES: dict[str, str] = {"qa": "Q&A", "youkou": "要綱", "notice": "通知・事務連絡", "slides": "説明資料",
                              "law": "法令"}

# What kind of unit a clause is; "item" is a Q&A item, "clause" a numbered 要綱 clause at any level. Statutes:
# "article" (条, also a 附則 paragraph standing alone), its "paragraph" (項) and "law_item" (号) children, "table"
# (別表) and its "table_row" (別表の項); their 編/章/節 are "group"s.
ClauseKind = Literal["preamble", "group", "item", "clause", "page", "article", "paragraph", "law_item", "table",
                     "table_row"]


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def _date(s: str | None) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


@dataclass(frozen=True, slots=True)
class Citation:
    """What staff quote back to the public: document label, edition label and section id."""

    doc_id: str
    doc_label: str
    section: str
    edition_label: str | None = None

    def render(self) -> str:
        """「Q&A（第2版）3-3」 with an edition label, 「実施要綱 4(2)エ」 without."""
        if self.edition_label:
            return f"{self.doc_label}（{self.edition_label}）{self.section}"
        return f"{self.doc_label} {self.section}"

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True, slots=True)
class Document:
    """One edition of one document. A new edition keeps the id and raises ``edition``."""

    id: str
    title: str
    kind: DocKind
    label: str  # short name used in citations: "Q&A", "実施要綱"
    edition: int = 1
    edition_label: str | None = None  # "第2版"; None when the document has no numbered editions
    issued: dt.date | None = None
    effective: dt.date | None = None
    source_name: str = ""
    source_sha256: str = ""
    # Statutes: e-Gov's law number 「平成二十六年法律第五十号」, revision id, the page to credit and link
    # (「出典：e-Gov法令検索」), and other names the law goes by (short names such as 難病法).
    law_num: str | None = None
    revision_id: str | None = None
    source_url: str | None = None
    aliases: tuple[str, ...] = ()
    source_type: str = ""  # "pdf" or "text": only a PDF's page numbers are real ("" in stores written before)

    @property
    def from_pdf(self) -> bool:
        return self.source_type == "pdf"

    @property
    def date(self) -> dt.date | None:
        """The date the edition took force, for --as-of: effective date, else issue date."""
        return self.effective or self.issued

    @property
    def key(self) -> str:
        return edition_key(self.id, self.edition)

    def citation(self, section: str) -> Citation:
        return Citation(self.id, self.label, section, self.edition_label)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["issued"], d["effective"] = _iso(self.issued), _iso(self.effective)
        d["aliases"] = list(self.aliases)
        if self.kind != "law":  # keep the stored form of other documents as it was
            for k in ("law_num", "revision_id", "source_url", "aliases"):
                if not d[k]:
                    del d[k]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Document:
        d = dict(d)
        d["issued"], d["effective"] = _date(d.get("issued")), _date(d.get("effective"))
        d["aliases"] = tuple(d.get("aliases") or ())
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Span:
    """A character range [start, end) inside a clause's ``text``."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Clause:
    """A citable unit: a Q&A item, a 要綱 clause or sub-item, a preamble, a slide/page section."""

    doc_id: str
    edition: int
    section: str  # half-width, e.g. "3-3", "4(2)エ", "前文", "p3"
    kind: ClauseKind
    parent: str | None
    heading: str  # the question of a Q&A item, the heading of a clause or page
    text: str  # the full display text of the clause, faithful to the source
    citation: str
    answer: str | None = None  # the answer body of a Q&A item
    order: int = 0  # position in the document
    start: int = 0  # character offsets into the cleaned document text
    end: int = 0
    pages: tuple[int, ...] = ()
    changed_spans: tuple[Span, ...] = ()  # runs marked (underlined) as changed in this edition
    refs: tuple[str, ...] = field(default=())  # keys of clauses this one cites, "doc@edition#section"

    @property
    def key(self) -> str:
        return clause_key(self.doc_id, self.edition, self.section)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["pages"] = list(self.pages)
        d["refs"] = list(self.refs)
        d["changed_spans"] = [[s.start, s.end] for s in self.changed_spans]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Clause:
        d = dict(d)
        d["pages"] = tuple(d.get("pages") or ())
        d["refs"] = tuple(d.get("refs") or ())
        d["changed_spans"] = tuple(Span(a, b) for a, b in d.get("changed_spans") or ())
        return cls(**d)


def edition_key(doc_id: str, edition: int) -> str:
    return f"{doc_id}@{edition}"


def clause_key(doc_id: str, edition: int, section: str) -> str:
    return f"{doc_id}@{edition}#{section}"


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A document edition with its clauses, as ingest produces it and the store keeps it."""

    document: Document
    clauses: tuple[Clause, ...]
    text: str  # the cleaned document text the clause offsets point into

    @property
    def clause_count(self) -> int:
        """len(clauses), without reading them where they are read on demand (LazyParsedDocument)."""
        return len(self.clauses)

    def clause(self, section: str) -> Clause | None:
        for c in self.clauses:
            if c.section == section:
                return c
        return None

    def clause_at(self, i: int) -> Clause:
        """clauses[i], without reading the others where they are read on demand (LazyParsedDocument)."""
        return self.clauses[i]


class LazyParsedDocument(ParsedDocument):
    """A ParsedDocument whose clauses are read when they are asked for: ``load`` returns them (and may keep them in
    a bounded cache; this object keeps no reference to them). A served build of the statute archive holds ~800k
    clauses; read all at load they took gigabytes."""

    __slots__ = ("_load", "_count", "_find", "_at", "_position")

    def __init__(self, document: Document, load: Callable[[], tuple[Clause, ...]], count: int,
                 find: Callable[[str], Clause | None], text: str = "", *,
                 at: Callable[[int], Clause], position: Callable[[str], int | None]) -> None:
        """``find``: ``clause(section)`` without reading the whole edition (the first clause of that section);
        ``at``: ``clauses[i]`` likewise; ``position``: the index in ``clauses`` of the last clause of a section."""
        object.__setattr__(self, "document", document)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "_load", load)
        object.__setattr__(self, "_count", count)
        object.__setattr__(self, "_find", find)
        object.__setattr__(self, "_at", at)
        object.__setattr__(self, "_position", position)

    @property  # type: ignore[override]
    def clauses(self) -> tuple[Clause, ...]:
        return self._load()

    @property
    def clause_count(self) -> int:
        return self._count

    def clause(self, section: str) -> Clause | None:
        return self._find(section)

    def clause_at(self, i: int) -> Clause:
        return self._at(i)

    def position(self, section: str) -> int | None:
        """The index in ``clauses`` of the last clause with this section, or None, without reading the edition."""
        return self._position(section)
