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
from corpus.collection import Corpus
from corpus.errors import RegkbError
from corpus.model import Clause, clause_key

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


# -- the clause graph: lookups, neighbours and reverse references, built once per loaded index ---------------------


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ClauseGraph:
    """Every clause by key, each edition's clauses in order, and ``cited_by`` (the reverse of ``Clause.refs``)."""

    def __init__(self, corpus: Corpus, notes: Mapping[str, str] | None = None) -> None:
        self.corpus = corpus
        self.notes = dict(notes or {})  # clause key -> 「第2版で追記」
        self.by_key: dict[str, Clause] = {}
        self.position: dict[str, int] = {}
        self.children: dict[str, list[Clause]] = {}
        for parsed in corpus:
            for i, c in enumerate(parsed.clauses):
                self.by_key[c.key] = c
                self.position[c.key] = i
                if c.parent is not None:
                    self.children.setdefault(clause_key(c.doc_id, c.edition, c.parent), []).append(c)
        self.cited_by: dict[str, list[str]] = {}
        for c in self.by_key.values():
            for ref in c.refs:
                target = self.resolve(ref)
                citing = self.cited_by.setdefault(target.key if target else ref, [])
                if c.key not in citing:
                    citing.append(c.key)
                if target is not None and target.kind in ("paragraph", "law_item") and target.parent:
                    # a citation of 第9条第2項 is listed on the article's page (第9条) too
                    article = self.cited_by.setdefault(clause_key(target.doc_id, target.edition, target.parent), [])
                    if c.key not in article:
                        article.append(c.key)

    def resolve(self, ref: str) -> Clause | None:
        """A ref key "doc@edition#section" (edition optional: latest; section in any spelling) to its clause."""
        head, sep, section = ref.partition("#")
        if not sep or not section:
            return None
        doc, _, edition = head.partition("@")
        try:
            ed = int(edition) if edition else None
            return self.corpus.clause(doc, section, ed)
        except (ValueError, RegkbError):
            return None

    def ref(self, key: str) -> ClauseRef:
        c = self.by_key.get(key) or self.resolve(key)
        if c is None:
            head, _, section = key.partition("#")
            doc, _, edition = head.partition("@")
            return ClauseRef(key=key, doc=doc, edition=int(edition) if edition.isdigit() else None, section=section,
                             citation=key, heading="", url=None, found=False)
        return ClauseRef(key=c.key, doc=c.doc_id, edition=c.edition, section=c.section, citation=c.citation,
                         heading=_short(c.heading), url=clause_url(c.doc_id, c.section, c.edition))

    def refs_of(self, c: Clause) -> list[ClauseRef]:
        return [self.ref(r) for r in c.refs]

    def cited_by_of(self, c: Clause) -> list[ClauseRef]:
        return [self.ref(k) for k in self.cited_by.get(c.key, [])]

    def children_of(self, c: Clause) -> list[ClauseRef]:
        return [self.ref(ch.key) for ch in self.children.get(c.key, [])]

    def neighbour(self, c: Clause, step: int) -> ClauseRef | None:
        clauses = self.corpus.get(c.doc_id, c.edition).clauses
        i = self.position[c.key] + step
        return self.ref(clauses[i].key) if 0 <= i < len(clauses) else None

    def depth(self, c: Clause) -> int:
        depth, seen = 0, {c.key}
        while c.parent is not None:
            parent = self.by_key.get(clause_key(c.doc_id, c.edition, c.parent))
            if parent is None or parent.key in seen:
                break
            seen.add(parent.key)
            depth, c = depth + 1, parent
        return depth
