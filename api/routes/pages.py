"""The search page at /: server-rendered, Japanese, the direct answer and its citation first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import MaybeSearcherDep, SettingsDep, index_error
from api.routes import render
from api.routes.documents import document_out
from api.routes.search import check_query, parse_as_of, to_response
from corpus.errors import BadQuery, DocumentNotFound, EditionNotFound, IndexMismatch, IndexNotBuilt, RegkbError
from index.search import SearchFilters

router = APIRouter(include_in_schema=False)

LOW_CONFIDENCE = "この質問に直接答える条項は見つかりませんでした。以下は参考として近い条項です。"


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


@router.get("/", response_class=Response)
def search_page(request: Request, searcher: MaybeSearcherDep, settings: SettingsDep, q: str | None = None,
                doc: str | None = None, edition: str | None = None, as_of: str | None = None) -> Response:
    max_chars = settings.max_query_chars
    ctx: dict[str, Any] = {"q": q or "", "doc": doc or "", "edition": edition or "", "as_of": as_of or "",
                           "max_chars": max_chars, "documents": [], "result": None, "error": None,
                           "low_confidence": LOW_CONFIDENCE, "max_edition": 1, "error_detail": None}
    status = 200
    try:
        if searcher is None:
            raise index_error(request)
        graph = request.app.state.graph
        ctx["documents"] = [document_out(graph.corpus.editions(d)) for d in graph.corpus.doc_ids]
        ctx["max_edition"] = max(e.edition for d in ctx["documents"] for e in d.editions)
        if q is not None:
            filters = SearchFilters(doc=doc or None, edition=_edition(edition), as_of=parse_as_of(as_of))
            result = searcher.search(check_query(q, max_chars), k=10, filters=filters)
            ctx["result"] = to_response(result, graph)
    except RegkbError as e:
        ctx["error"] = friendly(e, q or "", max_chars)
        if not isinstance(e, BadQuery):
            ctx["error_detail"] = str(e)  # message and hint: what an administrator needs
        # A blank box is not an error worth a status code; everything else keeps the API's status.
        status = 200 if isinstance(e, BadQuery) and "empty" in e.message else e.status
    return render(request, "search.html", ctx, status_code=status)
