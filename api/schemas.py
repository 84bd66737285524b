"""Response models of the JSON API: the public contract, kept apart from the internal dataclasses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# The edition numbers the API accepts (a document's editions count from 1). Without a bound, /search echoed an
# edition beyond 64 bits in its filters and the JSON encoder failed: a 500 instead of a 422.
MAX_EDITION = 999


class ClauseRef(BaseModel):
    """A short pointer to a clause, enough to cite and link it."""

    key: str = Field(description='"doc@edition#section"')
    doc: str
    edition: int | None
    section: str
    citation: str
    heading: str = Field(description="shortened heading")
    url: str | None = Field(None, description="the clause page; null when the reference does not resolve")
    found: bool = True


class HitOut(BaseModel):
    doc: str
    section: str
    edition: int
    edition_label: str | None
    date: str | None
    kind: str
    citation: str = Field(description="what to quote back, e.g. 「Q&A（第2版）2-9」")
    heading: str
    text: str
    answer: str | None = Field(description="the answer line: one self-contained sentence (a short Q&A answer with "
                                           "its subject restored from the question, a list item with its parent)")
    snippet: str
    snippet_highlights: list[tuple[int, int]] = Field(description="[start, end) character ranges in snippet")
    text_highlights: list[tuple[int, int]] = Field(description="[start, end) character ranges in text")
    score: float
    bm25_rank: int | None
    dense_rank: int | None
    bm25_score: float | None
    dense_score: float | None
    note: str | None = Field(description="edition note such as 「第2版で追記」")
    doc_title: str
    doc_kind: str = Field("", description="the document's kind: qa, youkou, notice, slides (通知・Q&A) or law (法令)")
    cited: bool = Field(False, description="the query cited this clause by number (「Q&A 2-5」, 「母子保健法 第20条」)")
    doc_label: str = Field("", description="the document's short name, e.g. 難病法 or Q&A")
    url: str = Field(description="the clause page")
    refs: list[ClauseRef] = Field(default_factory=list, description="clauses this one cites")
    changes_url: str | None = Field(None, description="the 新旧対照表 row of this clause against the previous "
                                                      "edition, when it has an edition note")


class AsOfExcluded(BaseModel):
    """A document an as_of search left out, and why."""

    doc: str
    title: str
    reason: str = Field(description='"undated": no edition has a date, so when it was in force is unknown; '
                                    '"later": its first edition is dated after as_of')


class SearchResponse(BaseModel):
    query: str
    answer: str | None = Field(description="the top hit's direct answer when the result is confident")
    confident: bool = Field(description="false: no clause answers the question directly; hits are only related")
    confidence: dict[str, Any]
    probability: float = Field(description="calibrated probability (0–1) that the first hit governs the question")
    verdict: str = Field(description='"answer" (lead with the first hit), "check" (related clauses: verify them) or '
                                     '"out_of_scope" (the documents do not cover the question)')
    as_of_excluded: list[AsOfExcluded] = Field(default_factory=list, description="with as_of: the documents left "
                                               "out (undated, or not issued yet on that date)")
    unresolved_citations: list[str] = Field(default_factory=list, description="citations typed in the query that "
                                            "the corpus does not have (「Q&A 9-9」, 「…法施行令第8条」), as typed; "
                                            "the verdict is then out_of_scope")
    added_terms: list[str] = Field(default_factory=list, description="words the search added to the query: the "
                                   "official term for a staff word (オン資 → オンライン資格確認), the corpus's words "
                                   "for hiragana, the word a kanji typo stands for (育生 → 育成)")
    mode: str
    method: str = Field(description="learned | rrf | convex | bm25 | dense")
    fusion: dict[str, Any]
    filters: dict[str, Any]
    took_ms: float
    hits: list[HitOut]


class EditionOut(BaseModel):
    edition: int
    edition_label: str | None
    issued: str | None
    effective: str | None
    clause_count: int


class DocumentOut(BaseModel):
    id: str
    title: str
    kind: str
    label: str
    latest_edition: int
    editions: list[EditionOut]
    url: str


class OutlineItem(BaseModel):
    section: str
    parent: str | None
    heading: str
    kind: str
    citation: str
    depth: int
    note: str | None = None
    url: str


class DocumentDetail(DocumentOut):
    edition: int = Field(description="the edition the outline is for")
    edition_label: str | None
    date: str | None
    outline: list[OutlineItem]


class ClauseOut(BaseModel):
    key: str
    doc: str
    doc_title: str
    edition: int
    edition_label: str | None
    date: str | None
    latest_edition: int
    section: str
    kind: str
    citation: str
    heading: str
    text: str
    answer: str | None = Field(description="the direct answer (first sentence of a Q&A answer)")
    answer_full: str | None = Field(description="the whole answer body of a Q&A item")
    note: str | None
    pages: list[int] = Field(description="pages of the source PDF; empty when the document was not ingested from a PDF")
    source_pdf: str | None = Field(None, description="the stored PDF the edition was ingested from (add #page=N)")
    changes_url: str | None = Field(None, description="the 新旧対照表 row of this clause against the previous edition")
    changed_spans: list[tuple[int, int]] = Field(description="[start, end) ranges of text changed in this edition")
    parent: ClauseRef | None
    children: list[ClauseRef]
    previous: ClauseRef | None
    next: ClauseRef | None
    refs: list[ClauseRef]
    cited_by: list[ClauseRef]
    url: str
    doc_kind: str = ""
    source_url: str | None = Field(None, description="the source to credit and link: for statutes the e-Gov page "
                                                     "(出典：e-Gov法令検索)")


class HealthOut(BaseModel):
    status: str = Field(description='"ok"; "stale" when documents were ingested after this build (a build is due); '
                                    '"no-index" when no usable index was found at start-up')
    build_id: str | None = None
    documents: int = 0
    editions: int = 0
    clauses: int = 0
    model: str | None = None
    embedding_backend: str | None = Field(None, description="what embeds queries in this process: onnx-int8, "
                                                            "onnx-fp32, torch or torch-bf16 (null for a keyword-only index)")
    build_backend: str | None = Field(None, description="what embedded the passages when the index was built")
    answers_needing_review: int = Field(0, description="saved answers whose cited clause changed, was renumbered or "
                                                       "removed in a newer edition (the 「要確認の回答」 page)")
    message: str | None = None
    hint: str | None = None


class ErrorBody(BaseModel):
    type: str
    message: str
    hint: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody
