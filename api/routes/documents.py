"""GET /documents, /documents/{doc}, /documents/{doc}/clauses/{section}: JSON for API clients, HTML for browsers.

One path serves both (chosen by the Accept header) so that a clause link is the same for people and programs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api.deps import GraphDep
from api.routes import ClauseGraph, clause_url, document_url, render, wants_html
from api.schemas import ClauseOut, DocumentDetail, DocumentOut, EditionOut, ErrorOut, OutlineItem
from corpus.model import Clause, ParsedDocument
from corpus.textnorm import first_sentence

router = APIRouter(tags=["documents"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "unknown document, edition or section"},
    503: {"model": ErrorOut, "description": "no usable index"},
}
EditionParam = Annotated[int | None, Query(ge=1, description="Edition number (default: the latest).")]
DocParam = Annotated[str, Path(description="Document id, e.g. hojokin-qa (see GET /documents).")]
SectionParam = Annotated[str, Path(description="Section id, e.g. 2-9 or 4(2)エ; full-width digits, parentheses "
                                               "and spaces are accepted (４（２）エ).")]


def _iso(d: Any) -> str | None:
    return d.isoformat() if d else None


def document_out(editions: list[ParsedDocument]) -> DocumentOut:
    latest = editions[-1].document
    return DocumentOut(
        id=latest.id, title=latest.title, kind=latest.kind, label=latest.label, latest_edition=latest.edition,
        editions=[EditionOut(edition=p.document.edition, edition_label=p.document.edition_label,
                             issued=_iso(p.document.issued), effective=_iso(p.document.effective),
                             clause_count=len(p.clauses)) for p in editions],
        url=document_url(latest.id),
    )


def document_detail(graph: ClauseGraph, doc: str, edition: int | None) -> DocumentDetail:
    parsed = graph.corpus.get(doc, edition)  # raises DocumentNotFound / EditionNotFound
    d = parsed.document
    outline = [OutlineItem(section=c.section, parent=c.parent, heading=c.heading, kind=c.kind, citation=c.citation,
                           depth=graph.depth(c), note=graph.notes.get(c.key),
                           url=clause_url(c.doc_id, c.section, c.edition)) for c in parsed.clauses]
    return DocumentDetail(**document_out(graph.corpus.editions(doc)).model_dump(), edition=d.edition,
                          edition_label=d.edition_label, date=_iso(d.date), outline=outline)


def clause_out(graph: ClauseGraph, c: Clause) -> ClauseOut:
    parsed = graph.corpus.get(c.doc_id, c.edition)
    d = parsed.document
    parent = graph.resolve(f"{c.doc_id}@{c.edition}#{c.parent}") if c.parent is not None else None
    return ClauseOut(
        key=c.key, doc=c.doc_id, doc_title=d.title, edition=c.edition, edition_label=d.edition_label,
        date=_iso(d.date), latest_edition=graph.corpus.get(c.doc_id).document.edition, section=c.section,
        kind=c.kind, citation=c.citation, heading=c.heading, text=c.text,
        answer=first_sentence(c.answer) if c.answer else None, answer_full=c.answer, note=graph.notes.get(c.key),
        pages=list(c.pages), changed_spans=[(s.start, s.end) for s in c.changed_spans],
        parent=graph.ref(parent.key) if parent else None, children=graph.children_of(c),
        previous=graph.neighbour(c, -1), next=graph.neighbour(c, 1), refs=graph.refs_of(c),
        cited_by=graph.cited_by_of(c), url=clause_url(c.doc_id, c.section, c.edition),
        doc_kind=d.kind, source_url=d.source_url,
    )


@router.get("/documents", response_model=list[DocumentOut], summary="The documents and their editions",
            responses={503: NOT_FOUND[503]})
def list_documents(request: Request, graph: GraphDep) -> Any:
    docs = [document_out(graph.corpus.editions(doc)) for doc in graph.corpus.doc_ids]
    if wants_html(request):
        return render(request, "documents.html", {"documents": docs})
    return docs


@router.get("/documents/{doc}", response_model=DocumentDetail, responses=NOT_FOUND,
            summary="One document: editions, dates and the clause outline of an edition")
def get_document(request: Request, graph: GraphDep, doc: DocParam, edition: EditionParam = None) -> Any:
    detail = document_detail(graph, doc, edition)
    if wants_html(request):
        return render(request, "document.html", {"d": detail})
    return detail


@router.get("/documents/{doc}/clauses/{section}", response_model=ClauseOut, responses=NOT_FOUND,
            summary="One clause with its parent, children, neighbours, references and reverse references")
def get_clause(request: Request, graph: GraphDep, doc: DocParam, section: SectionParam,
               edition: EditionParam = None) -> Any:
    c = graph.corpus.clause(doc, section, edition)  # normalises 全角 and spacing; raises the 404 errors
    out = clause_out(graph, c)
    if wants_html(request):
        return render(request, "clause.html", {"c": out})
    return out
