"""Request dependencies: the index loaded once at start-up (shared read-only) and the settings.

When no usable index was found at start-up, the searcher dependencies raise the start-up error again, so every
search and documents endpoint answers 503 with its message and hint while /health stays up.

The dependencies are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, a hand-off to a worker
thread and back for each of them on every request, for a getattr.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.settings import Settings
from corpus.errors import IndexMismatch, IndexNotBuilt, RegkbError
from index.graph import ClauseGraph
from index.search import Searcher


def index_error(request: Request) -> RegkbError:
    """A fresh copy of the start-up error (re-raising one instance would pile up tracebacks)."""
    err = getattr(request.app.state, "index_error", None)
    if isinstance(err, (IndexNotBuilt, IndexMismatch)):
        return type(err)(err.message, err.hint)
    return IndexNotBuilt("the index is not loaded", "start the server after `regkb ingest` and `regkb build`")


def maybe_searcher(request: Request) -> Searcher | None:
    return getattr(request.app.state, "searcher", None)


async def _maybe_searcher(request: Request) -> Searcher | None:
    return maybe_searcher(request)


async def get_searcher(request: Request) -> Searcher:
    searcher = maybe_searcher(request)
    if searcher is None:
        raise index_error(request)
    return searcher


async def get_graph(request: Request) -> ClauseGraph:
    graph = getattr(request.app.state, "graph", None)
    if graph is None:
        raise index_error(request)
    return graph


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
MaybeSearcherDep = Annotated[Searcher | None, Depends(_maybe_searcher)]
GraphDep = Annotated[ClauseGraph, Depends(get_graph)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
