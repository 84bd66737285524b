"""Helpers shared by the route modules: templates, content negotiation, URLs and safe highlight markup.

The routers themselves live in the sibling modules; ``api.app`` includes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import Response

from api import web
from api.schemas import ClauseRef
from corpus.model import Clause
from index.graph import ClauseGraph  # noqa: F401 (moved to the index layer; kept importable from here)

HERE = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

from corpus.model import KIND_NAMES as KIND_LABELS  # noqa: E402 (the badge names of the kinds, one place)


def clause_url(doc: str, section: str, edition: int | None = None) -> str:
    path = f"/documents/{quote(doc, safe='')}/clauses/{quote(section, safe='()-')}"
    return f"{path}?{urlencode({'edition': edition})}" if edition is not None else path


def document_url(doc: str, edition: int | None = None) -> str:
    path = f"/documents/{quote(doc, safe='')}"
    return f"{path}?{urlencode({'edition': edition})}" if edition is not None else path


def wrap_spans(text: str, spans: Iterable[tuple[int, int]], open_tag: str, close_tag: str) -> Markup:
    """``text`` with each span wrapped in a tag; every text segment is escaped on its own, so no markup leaks in."""
    out: list[str] = []
    pos = 0
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        start = max(start, pos)  # overlapping spans: never emit a character twice
        if end <= start:
            continue
        out += [str(escape(text[pos:start])), open_tag, str(escape(text[start:end])), close_tag]
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def marked(text: str, spans: Iterable[tuple[int, int]]) -> Markup:
    return wrap_spans(text, spans, "<mark>", "</mark>")


def underlined(text: str, spans: Iterable[tuple[int, int]]) -> Markup:
    return wrap_spans(text, spans, '<u class="changed">', "</u>")


def copy_text(answer: str | None, heading: str, citation: str) -> str:
    return f"{answer or heading}（出典：{citation}）"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(marked=marked, underlined=underlined, copy_text=copy_text, clause_url=clause_url,
                       document_url=document_url, kind_labels=KIND_LABELS)
    env.globals.update(edition_name=web.edition_name, copy_texts=web.copy_texts)
    env.filters["wareki"] = web.iso_wareki  # 令和8年3月9日（2026-03-09）
    return env


templates = Jinja2Templates(env=_env())


def wants_html(request: Request) -> bool:
    """Browsers ask for text/html; API clients (curl, httpx, fetch) send */* or application/json and get JSON."""
    return "text/html" in request.headers.get("accept", "")


def render(request: Request, name: str, context: Mapping[str, Any], status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, name, dict(context), status_code=status_code)


# -- clauses as links: the clause graph itself is built with the index (index/graph.py) ---------------------------


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clause_ref(target: Clause | str) -> ClauseRef:
    """A link to a clause; a reference that names no clause (a key string) is shown as written, unlinked."""
    if isinstance(target, str):
        head, _, section = target.partition("#")
        doc, _, edition = head.partition("@")
        return ClauseRef(key=target, doc=doc, edition=int(edition) if edition.isdigit() else None, section=section,
                         citation=target, heading="", url=None, found=False)
    c = target
    return ClauseRef(key=c.key, doc=c.doc_id, edition=c.edition, section=c.section, citation=c.citation,
                     heading=_short(c.heading), url=clause_url(c.doc_id, c.section, c.edition))


def clause_refs(targets: Iterable[Clause | str]) -> list[ClauseRef]:
    return [clause_ref(t) for t in targets]
