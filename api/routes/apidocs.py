"""GET /docs: Swagger UI served from the fastapi-offline package's files, so the API docs work offline.

FastAPI's own /docs loads Swagger UI from a CDN and starts it with an inline script; this page loads the package's
files from /docs-assets and starts them from /static/docs-init.js. (swagger-ui-bundle's Swagger UI 4 cannot read
FastAPI's OpenAPI 3.1; fastapi-offline ships Swagger UI 5.) /redoc is off: Redoc needs a CDN or inline styles.
"""

from __future__ import annotations

from pathlib import Path

from importlib import resources
from fastapi import APIRouter, Request
from starlette.responses import Response

from api.routes import render

ASSETS_PATH = "/docs-assets"
ASSETS_DIR = Path(str(resources.files("fastapi_offline") / "static"))

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=Response)
def swagger_ui(request: Request) -> Response:
    return render(request, "apidocs.html", {"assets": ASSETS_PATH, "openapi_url": request.app.openapi_url})
