"""GET /documents/{doc}/diff?from=&to=: the 新旧対照表 between two editions, JSON for programs, a page for people.

The diff is computed from the served build's clauses on request (alignment of ~30 items takes milliseconds) and
kept for as long as that build is served: the cache hangs off the build's corpus by a weak reference, so a hot swap
lets the old build's diffs go with it (an lru_cache keyed by corpus kept up to 64 old corpora alive).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from markupsafe import Markup

from api.deps import GraphDep
from api.diff_cells import summary
from api.render_diff import STYLESHEET, to_html
from api.routes import render, wants_html
from api.schemas import MAX_EDITION, ErrorOut
from corpus.collection import Corpus
from corpus.diff import EditionDiff, diff_editions

router = APIRouter(tags=["documents"])

_CACHE: weakref.WeakKeyDictionary[Corpus, dict[tuple[str, int, int], EditionDiff]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def cached_diff(corpus: Corpus, doc: str, old: int, new: int) -> EditionDiff:
    """The diff of two editions of the served corpus; raises DocumentNotFound / EditionNotFound."""
    with _LOCK:
        hit = _CACHE.get(corpus, {}).get((doc, old, new))
    if hit is not None:
        return hit
    diff = diff_editions(corpus.get(doc, old), corpus.get(doc, new))
    with _LOCK:
        _CACHE.setdefault(corpus, {})[(doc, old, new)] = diff
    return diff


@router.get("/documents/{doc}/diff", summary="Item-level diff between two editions (新旧対照表)",
            responses={404: {"model": ErrorOut, "description": "unknown document or edition"}})
def edition_diff(
    request: Request,
    graph: GraphDep,
    doc: Annotated[str, Path(description="Document id, e.g. hojokin-qa.")],
    from_: Annotated[int, Query(alias="from", ge=1, le=MAX_EDITION, description="The older edition.")],
    to: Annotated[int, Query(ge=1, le=MAX_EDITION, description="The newer edition.")],
    changed_only: Annotated[bool, Query(description="Leave unchanged items out of the page.")] = False,
) -> Any:
    diff = cached_diff(graph.corpus, doc, from_, to)
    if not wants_html(request):
        return diff.to_json()
    shown = replace(diff, items=diff.changed) if changed_only else diff
    editions = [p.document for p in graph.corpus.editions(doc)]
    return render(request, "diff.html", {
        "diff": shown, "table": Markup(to_html(shown)),  # noqa: S704 (every text is escaped inside)
        "summary": summary(diff), "doc": doc, "doc_title": editions[-1].title, "editions": editions,
        "changed_only": changed_only, "wide": True,
    })


@router.get("/shinkyu.css", include_in_schema=False)
def shinkyu_css() -> FileResponse:
    """The table's stylesheet at its old address (it lives in /static now)."""
    return FileResponse(STYLESHEET, media_type="text/css")
