"""GET /documents/{doc}/diff?from=&to=: the 新旧対照表 between two editions, JSON for programs, a page for people.

The diff is computed from the served build's clauses on request (alignment of ~30 items takes milliseconds) and
cached per build, since a build never changes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse
from markupsafe import Markup

from api.deps import GraphDep
from api.routes import render, wants_html
from api.schemas import ErrorOut
from corpus.collection import Corpus
from corpus.diff import EditionDiff, diff_editions
from corpus.diff_render import TABLE_CSS, to_html

router = APIRouter(tags=["documents"])


@lru_cache(maxsize=64)
def _diff(corpus: Corpus, doc: str, old: int, new: int) -> EditionDiff:
    return diff_editions(corpus.get(doc, old), corpus.get(doc, new))


@router.get("/documents/{doc}/diff", summary="Item-level diff between two editions (新旧対照表)",
            responses={404: {"model": ErrorOut, "description": "unknown document or edition"}})
def edition_diff(
    request: Request,
    graph: GraphDep,
    doc: Annotated[str, Path(description="Document id, e.g. hojokin-qa.")],
    from_: Annotated[int, Query(alias="from", ge=1, le=999, description="The older edition.")],
    to: Annotated[int, Query(ge=1, le=999, description="The newer edition.")],
    changed_only: Annotated[bool, Query(description="Leave unchanged items out of the page.")] = False,
) -> Any:
    diff = _diff(graph.corpus, doc, from_, to)
    if not wants_html(request):
        return diff.to_json()
    if changed_only:
        from dataclasses import replace

        diff = replace(diff, items=tuple(i for i in diff.items if i.change != "unchanged"))
    editions = [p.document for p in graph.corpus.editions(doc)]
    return render(request, "diff.html", {"diff": diff, "table": Markup(to_html(diff)),  # noqa: S704 (escaped inside)
                                         "doc": doc, "editions": editions, "changed_only": changed_only})


@router.get("/shinkyu.css", include_in_schema=False)
def shinkyu_css() -> PlainTextResponse:
    return PlainTextResponse(TABLE_CSS, media_type="text/css")
