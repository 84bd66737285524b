"""The web app: JSON API, search page and static files over one index loaded at start-up.

    uvicorn --factory api.app:create_app        (or `regkb serve`)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import error_pages
from api.reload import follow_builds
from api.routes import STATIC_DIR, render, wants_html
from api.routes import admin, answers, apidocs, diff, documents, health, pages, search
from api.settings import Settings, get_settings
from corpus.errors import IndexMismatch, RegkbError
from index.graph import ClauseGraph
from index.search import Searcher

log = logging.getLogger(__name__)

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")
# Swagger UI at /docs runs from the fastapi-offline package's files (no CDN, no inline script); its React
# components set style attributes, so only that page allows inline styles.
DOCS_CSP = CSP.replace("style-src 'self';", "style-src 'self' 'unsafe-inline';")
DOCS_PATHS = ("/docs",)


class SecurityHeaders:
    """Pure ASGI middleware (no body buffering): the headers on every response, the CSP on HTML."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = DOCS_CSP if path in DOCS_PATHS else CSP
            await send(message)

        await self.app(scope, receive, send_with_headers)


def error_response(request: Request, status: int, kind: str, message: str, hint: str | None,
                   headers: dict[str, str] | None = None, exc: Exception | None = None) -> Response:
    if wants_html(request):  # people get Japanese, built from the error's type, never the English detail
        page = error_pages.for_error(request, status, exc)
        return render(request, "error.html", page.context(), status_code=status)
    return JSONResponse({"error": {"type": kind, "message": message, "hint": hint}}, status_code=status,
                        headers=headers)


async def on_regkb_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegkbError)
    return error_response(request, exc.status, type(exc).__name__, exc.message, exc.hint, exc=exc)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Only where and what: never the raw input (it can be long) nor pydantic's internals.
    parts = [f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'request'}: {err.get('msg', 'invalid')}"
             for err in exc.errors()]
    return error_response(request, 422, "RequestValidationError", "; ".join(parts) or "invalid request",
                          "see the parameters at /docs", exc=exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    kind = "NotFound" if exc.status_code == 404 else "HTTPError"
    return error_response(request, exc.status_code, kind, str(exc.detail), None, headers=exc.headers, exc=exc)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    # Runs outside the middleware stack (Starlette's ServerErrorMiddleware), so the headers are set here too.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": {"type": "InternalError", "message": "internal error", "hint": None}},
                        status_code=500, headers=SECURITY_HEADERS)


def load_index(app: FastAPI, settings: Settings, searcher: Searcher | None) -> bool:
    """Load and warm an index, then swap it in; on failure keep serving what was served (or nothing, and say why)."""
    try:
        if searcher is None:
            # A corpus newer than the build (an ingest whose build is still running) is no reason to stop
            # answering: serve this build; /health reports it as stale.
            searcher = Searcher.load(settings.data_dir, check_corpus=False, encoder=settings.encoder(),
                                     max_query_chars=settings.max_query_chars, vocabulary=settings.vocabulary())
        searcher.warm_up()
        # Written by the build (graph.json); computed here, with a warning, for a build made before it was.
        graph = ClauseGraph.load(getattr(searcher, "build_dir", None), searcher.manifest, searcher.corpus,
                                 getattr(searcher, "notes", None))
    except RegkbError as e:
        log.warning("no usable index: %s", e)
        if getattr(app.state, "searcher", None) is None:
            app.state.index_error = e
        return False
    except Exception as e:  # a corrupt build must not keep the server (and its /health) down
        log.exception("the index could not be loaded")
        if getattr(app.state, "searcher", None) is None:
            app.state.index_error = IndexMismatch(f"the index could not be loaded ({type(e).__name__})",
                                                  "rebuild it with `regkb build`")
        return False
    # Graph first: a request that reads both mid-swap sees the new graph with the old searcher at worst, and
    # the graph of a newer build is a superset of what the old searcher can return.
    app.state.graph = graph
    app.state.searcher = searcher
    app.state.index_error = None
    log.info("serving index %s", searcher.manifest.get("build_id"))
    return True


def create_app(settings: Settings | None = None, searcher: Searcher | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.searcher = app.state.graph = app.state.index_error = None
        load_index(app, settings, searcher)
        follower = None
        if searcher is None:  # an injected searcher (tests) is served as it is
            follower = asyncio.create_task(follow_builds(app, settings.data_dir,
                                                         lambda: load_index(app, settings, None)))
        yield
        if follower is not None:
            follower.cancel()

    app = FastAPI(title="regkb", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="A cited search engine over Japanese regulation documents. Every hit carries its "
                              "citation (document, edition, section). Errors are "
                              '`{"error": {"type", "message", "hint"}}`.')
    app.state.settings = settings
    app.add_middleware(SecurityHeaders)
    handlers: dict[Any, Any] = {RegkbError: on_regkb_error, RequestValidationError: on_validation_error,
                                StarletteHTTPException: on_http_error, Exception: on_unexpected}
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
    app.include_router(search.build_router(settings))
    app.include_router(documents.router)
    app.include_router(health.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.include_router(diff.router)
    app.include_router(answers.router)
    app.include_router(apidocs.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(apidocs.ASSETS_PATH, StaticFiles(directory=apidocs.ASSETS_DIR), name="docs-assets")
    return app
