"""Request dependencies: the index loaded once at start-up (shared read-only) and the settings.

When no usable index was found at start-up, the searcher dependencies raise the start-up error again, so every
search and documents endpoint answers 503 with its message and hint while /health stays up.
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


def get_searcher(request: Request) -> Searcher:
    searcher = maybe_searcher(request)
    if searcher is None:
        raise index_error(request)
    return searcher


def get_graph(request: Request) -> ClauseGraph:
    graph = getattr(request.app.state, "graph", None)
    if graph is None:
        raise index_error(request)
    return graph


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
MaybeSearcherDep = Annotated[Searcher | None, Depends(maybe_searcher)]
GraphDep = Annotated[ClauseGraph, Depends(get_graph)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
