"""GET /search: cited hits as JSON. The router is built per app so the OpenAPI limits match its settings."""

# No `from __future__ import annotations` here: the Query limits in build_router are closure variables, which
# FastAPI could not resolve from string annotations.
import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import GraphDep, SearcherDep
from api.routes import clause_refs, clause_url
from api import web
from api.schemas import MAX_EDITION, AsOfExcluded, ErrorOut, HitOut, SearchResponse
from api.settings import Settings
from corpus.dates import parse_date_param
from corpus.model import DocKind
from index.graph import ClauseGraph
from index.search import SearchFilters, SearchResult

Kind = DocKind  # the kinds of document (corpus/model.py)
ModeParam = Literal["hybrid", "bm25", "dense"]


def parse_as_of(value: str | None) -> dt.date | None:
    """The as_of parameter: ISO or 令和 dates; a bad one is the caller's mistake (BadQuery, 422), not ours."""
    return parse_date_param(value, "as_of")


def as_of_excluded(result: SearchResult, graph: ClauseGraph) -> list[AsOfExcluded]:
    """With as_of: the documents (of those the filters allow) that the search left out, and why."""
    f = result.filters
    if not f.get("as_of"):
        return []
    corpus = graph.corpus
    docs = [f["doc"]] if f.get("doc") else corpus.doc_ids
    if f.get("kind"):
        docs = [d for d in docs if corpus.get(d).document.kind == f["kind"]]
    return [AsOfExcluded(doc=d.id, title=d.title, reason=why)
            for d, why in corpus.out_of_date_range(dt.date.fromisoformat(f["as_of"]), docs)]


def to_response(result: SearchResult, graph: ClauseGraph) -> SearchResponse:
    hits = []
    for h in result.hits:
        clause = graph.clause(h.doc, h.edition, h.section)
        hits.append(HitOut(**h.to_json(), url=clause_url(h.doc, h.section, h.edition),
                           refs=clause_refs(graph.refs(clause)) if clause else [],
                           changes_url=web.changes_url(graph.corpus, h.doc, h.edition, h.section, h.note)))
    return SearchResponse(
        query=result.query, answer=hits[0].answer if result.confident and hits else None,
        confident=result.confident, confidence=result.confidence, mode=result.mode,
        probability=result.probability, verdict=result.verdict, as_of_excluded=as_of_excluded(result, graph),
        unresolved_citations=result.unresolved_citations, added_terms=result.added_terms,
        method=str(result.fusion.get("method", result.mode)), fusion=result.fusion, filters=result.filters,
        took_ms=result.took_ms, hits=hits,
    )


def response_body(result: SearchResult, graph: ClauseGraph) -> dict[str, Any]:
    """What ``to_response`` validates and FastAPI then serialises, built directly as JSON-ready data: the same keys
    in the same order (the response models' field order) and the same values. Validating the models twice
    (returned, then again as the response model) cost more than the rest of a BM25 request; tests/test_query_path.py
    checks this body against the models' own serialisation."""
    hits = []
    for h in result.hits:
        clause = graph.clause(h.doc, h.edition, h.section)
        hits.append({
            "doc": h.doc, "section": h.section, "edition": h.edition, "edition_label": h.edition_label,
            "date": h.date, "kind": h.kind, "citation": h.citation, "heading": h.heading, "text": h.text,
            "answer": h.answer, "snippet": h.snippet, "snippet_highlights": h.snippet_highlights,
            "text_highlights": h.text_highlights, "score": h.score, "bm25_rank": h.bm25_rank,
            "dense_rank": h.dense_rank, "bm25_score": h.bm25_score, "dense_score": h.dense_score, "note": h.note,
            "doc_title": h.doc_title, "doc_kind": h.doc_kind, "cited": h.cited, "doc_label": h.doc_label,
            "url": clause_url(h.doc, h.section, h.edition),
            "refs": [r.model_dump() for r in clause_refs(graph.refs(clause))] if clause else [],
            "changes_url": web.changes_url(graph.corpus, h.doc, h.edition, h.section, h.note)})
    return {
        "query": result.query, "answer": result.hits[0].answer if result.confident and result.hits else None,
        "confident": result.confident, "confidence": result.confidence, "probability": result.probability,
        "verdict": result.verdict,
        "as_of_excluded": [a.model_dump() for a in as_of_excluded(result, graph)],
        "unresolved_citations": list(result.unresolved_citations), "added_terms": list(result.added_terms),
        "mode": result.mode, "method": str(result.fusion.get("method", result.mode)), "fusion": result.fusion,
        "filters": result.filters, "took_ms": result.took_ms, "hits": hits}


def _plain(value: Any) -> Any:
    """numpy scalars as the response models coerce them (float(), int(), bool())."""
    import numpy as np

    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_bytes(body: dict[str, Any]) -> bytes:
    """The body as UTF-8 JSON, compact, like Starlette's JSONResponse (orjson when installed: it comes with ranx)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover
        return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                          default=_plain).encode("utf-8")
    return orjson.dumps(body, default=_plain)


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["search"])
    max_chars, max_k = settings.max_query_chars, settings.max_k

    @router.get("/search", response_model=SearchResponse, summary="Search the regulations; every hit is cited",
                responses={404: {"model": ErrorOut, "description": "unknown doc, or unknown edition of that doc"},
                           422: {"model": ErrorOut, "description": "bad parameter"},
                           503: {"model": ErrorOut, "description": "no usable index"}})
    def search(
        searcher: SearcherDep,
        graph: GraphDep,
        q: Annotated[str, Query(min_length=1, max_length=max_chars,
                                description=f"The question in plain Japanese; at most {max_chars} characters, "
                                            "not empty or blank.")],
        k: Annotated[int, Query(ge=1, le=max_k, description=f"How many hits, 1 to {max_k}.")] = 10,
        doc: Annotated[str | None, Query(description="Only this document id, e.g. hojokin-qa.")] = None,
        kind: Annotated[Kind | None, Query(description="Only this kind of document.")] = None,
        edition: Annotated[int | None, Query(ge=1, le=MAX_EDITION, description="Only this edition (default: the latest of each "
                                                               "document).")] = None,
        as_of: Annotated[str | None, Query(description="The editions in force on this date: 2026-02-20 or "
                                                       "令和8年2月20日.")] = None,
        mode: Annotated[ModeParam, Query(description="hybrid (default), bm25 or dense.")] = "hybrid",
    ) -> Response:
        # The schema above documents the limit; the searcher (loaded with the same settings) is what enforces it,
        # blank queries included.
        filters = SearchFilters(doc=doc or None, kind=kind, edition=edition, as_of=parse_as_of(as_of))
        result = searcher.search(q, k=k, filters=filters, mode=mode)
        # SearchResponse documents the body (response_model above); it is built and encoded directly.
        return Response(json_bytes(response_body(result, graph)), media_type="application/json")

    return router
