"""GET /documents, /documents/{doc}, /documents/{doc}/clauses/{section}: JSON for API clients, HTML for browsers.

One path serves both (chosen by the Accept header) so that a clause link is the same for people and programs.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from markupsafe import Markup

from api import web
from api.deps import GraphDep, SettingsDep
from api.routes import clause_ref, clause_refs, clause_url, document_url, render, wants_html
from api.schemas import ClauseOut, DocumentDetail, DocumentOut, EditionOut, ErrorOut, OutlineItem
from corpus.errors import SourceNotStored
from corpus.model import Clause, ParsedDocument
from corpus.store import Store
from corpus.textnorm import first_sentence
from index.graph import ClauseGraph

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


def pdf_url(doc: str, edition: int) -> str:
    return f"{document_url(doc)}/pdf?{urlencode({'edition': edition})}"


def clause_out(graph: ClauseGraph, c: Clause) -> ClauseOut:
    parsed = graph.corpus.get(c.doc_id, c.edition)
    d = parsed.document
    parent, previous, following = graph.parent(c), graph.neighbour(c, -1), graph.neighbour(c, 1)
    return ClauseOut(
        key=c.key, doc=c.doc_id, doc_title=d.title, edition=c.edition, edition_label=d.edition_label,
        date=_iso(d.date), latest_edition=graph.corpus.get(c.doc_id).document.edition, section=c.section,
        kind=c.kind, citation=c.citation, heading=c.heading, text=c.text,
        answer=first_sentence(c.answer) if c.answer else None, answer_full=c.answer, note=graph.notes.get(c.key),
        pages=list(c.pages) if d.from_pdf else [],  # pages of a text file are guesses: none shown
        source_pdf=pdf_url(c.doc_id, c.edition) if d.from_pdf else None,
        changes_url=web.changes_url(graph.corpus, c.doc_id, c.edition, c.section, graph.notes.get(c.key)),
        changed_spans=[(s.start, s.end) for s in c.changed_spans],
        parent=clause_ref(parent) if parent else None, children=clause_refs(graph.children(c)),
        previous=clause_ref(previous) if previous else None, next=clause_ref(following) if following else None,
        refs=clause_refs(graph.refs(c)), cited_by=clause_refs(graph.cited_by(c)),
        url=clause_url(c.doc_id, c.section, c.edition),
        doc_kind=d.kind, source_url=d.source_url,
    )


@router.get("/documents", response_model=list[DocumentOut], summary="The documents and their editions",
            responses={503: NOT_FOUND[503]})
def list_documents(request: Request, graph: GraphDep) -> Any:
    docs = [document_out(graph.corpus.editions(doc)) for doc in graph.corpus.doc_ids]
    if wants_html(request):
        editions = {d.id: web.edition_choices(graph.corpus, d.id) for d in docs}
        return render(request, "documents.html", {"documents": docs, "editions": editions})
    return docs


@router.get("/documents/{doc}", response_model=DocumentDetail, responses=NOT_FOUND,
            summary="One document: editions, dates and the clause outline of an edition")
def get_document(request: Request, graph: GraphDep, doc: DocParam, edition: EditionParam = None) -> Any:
    detail = document_detail(graph, doc, edition)
    if wants_html(request):
        return render(request, "document.html", {"d": detail, "editions": web.edition_choices(graph.corpus, doc),
                                                 "current": graph.corpus.current(doc).document.edition})
    return detail


@router.get("/documents/{doc}/clauses/{section}", response_model=ClauseOut, responses=NOT_FOUND,
            summary="One clause with its parent, children, neighbours, references and reverse references")
def get_clause(request: Request, graph: GraphDep, doc: DocParam, section: SectionParam,
               edition: EditionParam = None) -> Any:
    c = graph.corpus.clause(doc, section, edition)  # normalises 全角 and spacing; raises the 404 errors
    out = clause_out(graph, c)
    if wants_html(request):
        copy = web.copy_texts(answer=out.answer, citation=out.citation, title=out.doc_title, date=out.date,
                              url=str(request.base_url).rstrip("/") + out.url)
        return render(request, "clause.html", {"c": out, "copy": copy, "change": _change(graph, c, out)})
    return out


def _change(graph: ClauseGraph, c: Clause, out: ClauseOut) -> dict[str, Any] | None:
    """The old text of a changed clause, its changed runs marked, for the clause page."""
    if out.changes_url is None:
        return None
    from api.render_diff import cell_html
    from api.routes.diff import cached_diff

    old = web.previous_edition(graph.corpus, c.doc_id, c.edition)
    assert old is not None  # a changes_url has one
    diff = cached_diff(graph.corpus, c.doc_id, old, c.edition)
    item = next((i for i in diff.items if i.new == c.section), None)
    if item is None or item.old is None:
        return None
    return {"old_label": web.edition_name(graph.corpus.get(c.doc_id, old).document),
            "new_html": Markup(cell_html(item, "new")),  # noqa: S704 (escaped inside)
            "old_html": Markup(cell_html(item, "old"))}  # noqa: S704 (escaped inside)


@router.get("/documents/{doc}/pdf", response_class=FileResponse, responses=NOT_FOUND,
            summary="The PDF an edition was ingested from (link a page with #page=N)")
def get_pdf(graph: GraphDep, settings: SettingsDep, doc: DocParam, edition: EditionParam = None) -> FileResponse:
    d = graph.corpus.get(doc, edition).document  # raises DocumentNotFound / EditionNotFound
    path = Store(settings.data_dir).original_path(d)
    if path is None:
        raise SourceNotStored(f"{doc} (edition {d.edition}) has no stored PDF",
                              "only documents ingested from a PDF have one; re-ingest the PDF to keep it")
    return FileResponse(path, media_type="application/pdf", content_disposition_type="inline",
                        filename=f"{doc}-{d.edition}.pdf")
