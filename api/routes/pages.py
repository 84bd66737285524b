"""The search page at /: server-rendered, Japanese, the direct answer and its citation first.

The form offers only what exists: documents by title, and for the chosen document its own editions (dated, 現行
marked). The result says what its verdict means — an answer, related clauses to check, or a question the documents
do not cover — and, with a 基準日, which documents were left out because they are undated or later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from api import web
from api.deps import MaybeSearcherDep, SettingsDep, index_error
from api.routes import render
from api.routes.search import parse_as_of, to_response
from corpus.errors import BadQuery, DocumentNotFound, EditionNotFound, IndexMismatch, IndexNotBuilt, RegkbError
from index.graph import ClauseGraph
from index.search import SearchFilters

router = APIRouter(include_in_schema=False)

# Questions of the kinds staff ask, one per document kind, to show how to ask (links that run the search).
EXAMPLES = (
    "学校保健安全法に基づく医療費援助はこの補助金の対象ですか",
    "補助金の概算払いはできますか",
    "補助率は何分の何ですか",
    "受給者証のマイナンバーカードへの一体化の申請受付はいつからですか",
)


def friendly(e: RegkbError, q: str, max_chars: int) -> str:
    """The Japanese message shown on the page; the English detail stays in the API."""
    if isinstance(e, BadQuery):
        if "empty" in e.message:
            return "質問を入力してください。"
        if "characters" in e.message:
            return f"質問が長すぎます（{len(q.strip())}文字）。{max_chars}文字以内で入力してください。"
        if e.message.startswith("as_of"):
            return "基準日の形式が正しくありません。2026-03-09 または 令和8年3月9日 の形式で入力してください。"
        return "この条件では検索できませんでした。入力内容を確認してください。"
    if isinstance(e, (DocumentNotFound, EditionNotFound)):
        return "指定された文書または版が見つかりません。条件を選び直してください。"
    if isinstance(e, (IndexNotBuilt, IndexMismatch)):
        return "検索インデックスが利用できません。管理者に連絡してください（regkb ingest / regkb build）。"
    return "検索できませんでした。"


def _edition(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise BadQuery(f"edition must be a positive number, not {value!r}", "choose an edition from the list")
    return int(value)


@dataclass(frozen=True, slots=True)
class DocChoice:
    id: str
    title: str
    kind: str
    editions: list[web.EditionChoice]  # newest first

    @property
    def editions_data(self) -> list[list[Any]]:
        """For the page script: [[edition, label], …], so the 版 list follows the chosen document."""
        return [[e.edition, e.label] for e in self.editions]


def doc_choices(graph: ClauseGraph) -> list[DocChoice]:
    corpus = graph.corpus
    return [DocChoice(d, corpus.get(d).document.title, corpus.get(d).document.kind, web.edition_choices(corpus, d))
            for d in corpus.doc_ids]


@router.get("/", response_class=Response)
def search_page(request: Request, searcher: MaybeSearcherDep, settings: SettingsDep, q: str | None = None,
                doc: str | None = None, edition: str | None = None, as_of: str | None = None) -> Response:
    max_chars = settings.max_query_chars
    ctx: dict[str, Any] = {"q": q or "", "doc": doc or "", "edition": edition or "", "as_of": as_of or "",
                           "max_chars": max_chars, "documents": [], "editions": [], "result": None, "error": None,
                           "error_detail": None, "examples": EXAMPLES, "banner": None, "as_of_date": None,
                           "base_url": str(request.base_url).rstrip("/")}
    status = 200
    try:
        if searcher is None:
            raise index_error(request)
        graph = request.app.state.graph
        ctx["documents"] = doc_choices(graph)
        chosen = next((d for d in ctx["documents"] if d.id == doc), None)
        ctx["editions"] = chosen.editions if chosen else []
        if q is not None:
            # An edition means something only for one document: without one it would silently drop every
            # document that has no such edition, so it is not applied.
            filters = SearchFilters(doc=doc or None, edition=_edition(edition) if doc else None,
                                    as_of=parse_as_of(as_of))
            result = searcher.search(q, k=10, filters=filters)
            ctx["result"] = to_response(result, graph)
            ctx["banner"] = web.banner(ctx["result"].verdict)
            ctx["as_of_date"] = web.iso_wareki(filters.as_of)
    except RegkbError as e:
        ctx["error"] = friendly(e, q or "", max_chars)
        # A blank box is not an error worth a status code; everything else keeps the API's status.
        status = 200 if isinstance(e, BadQuery) and "empty" in e.message else e.status
    return render(request, "search.html", ctx, status_code=status)

