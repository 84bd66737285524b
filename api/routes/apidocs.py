"""GET /docs: Swagger UI served from the swagger-ui-bundle package, so the API docs work offline.

FastAPI's own /docs loads Swagger UI from a CDN and starts it with an inline script; this page loads the package's
files from /docs-assets and starts them from /static/docs-init.js. /redoc is off (it would need a CDN too).
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import APIRouter, Request
from starlette.responses import Response

from api.routes import render

ASSETS_PATH = "/docs-assets"
ASSETS_DIR = Path(swagger_ui_bundle.swagger_ui_path)

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=Response)
def swagger_ui(request: Request) -> Response:
    return render(request, "apidocs.html", {"assets": ASSETS_PATH, "openapi_url": request.app.openapi_url})
