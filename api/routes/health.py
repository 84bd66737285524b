"""GET /health: is an index loaded, which build, how much is in it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import index_error, maybe_searcher
from api.routes.answers import needing_review_count
from api.schemas import HealthOut
from corpus.store import Store

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, summary="Index status (503 with status no-index when none loaded)",
            responses={503: {"model": HealthOut, "description": "no usable index: search answers 503"}})
def health(request: Request) -> HealthOut | JSONResponse:
    searcher = maybe_searcher(request)
    if searcher is None:
        err = index_error(request)
        body = HealthOut(status="no-index", message=err.message, hint=err.hint,
                         answers_needing_review=needing_review_count(request))
        return JSONResponse(body.model_dump(), status_code=503)
    corpus = searcher.corpus
    store = Store(request.app.state.settings.data_dir)
    # "stale": the store has editions this build does not have yet (a build is due or running).
    stale = store.exists() and store.state_hash() != searcher.manifest.get("corpus_hash")
    return HealthOut(status="stale" if stale else "ok", build_id=searcher.manifest.get("build_id"), documents=len(corpus.doc_ids),
                     editions=len(corpus), clauses=sum(len(p.clauses) for p in corpus),
                     model=(searcher.manifest.get("model") or {}).get("name"),
                     embedding_backend=searcher.embedding_backend,
                     build_backend=(searcher.manifest.get("model") or {}).get("backend"),
                     answers_needing_review=needing_review_count(request))
