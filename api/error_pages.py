"""Error pages for people: Japanese title, message and next steps (links to what does exist).

The JSON API keeps its English ``{"error": {"type", "message", "hint"}}``; a browser asking for HTML gets this
instead, built from the error's type and the request (the document and edition asked for), never from the English
text. An unknown edition lists the editions that exist; an unknown document lists the documents.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from api.routes import document_url
from api.web import edition_name
from corpus.collection import Corpus
from corpus.dates import wareki_iso
from corpus.errors import RegkbError

log = logging.getLogger(__name__)

# Query and path parameters by their Japanese names, for 422 messages.
PARAM_NAMES = {"q": "質問", "k": "件数", "doc": "文書", "kind": "文書の種類", "edition": "版", "as_of": "基準日",
               "mode": "検索方式", "from": "改正前の版", "to": "改正後の版", "section": "条項番号",
               "changed_only": "変更のある項目のみ"}
STATUS_TITLES = {404: "ページが見つかりません", 405: "この操作はできません", 413: "ファイルが大きすぎます",
                 422: "入力内容を確認してください", 500: "内部エラーが発生しました",
                 503: "検索インデックスが利用できません"}


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    url: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class ErrorPage:
    status: int
    title: str
    message: str
    hint: str | None = None
    links_title: str | None = None
    links: Sequence[Link] = field(default_factory=tuple)

    def context(self) -> dict[str, Any]:
        return {"status": self.status, "title": self.title, "message": self.message, "hint": self.hint,
                "links_title": self.links_title, "links": list(self.links)}


def _corpus(request: Request) -> Corpus | None:
    graph = getattr(request.app.state, "graph", None)
    return graph.corpus if graph is not None else None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _edition_links(corpus: Corpus, doc: str) -> list[Link]:
    current = corpus.current(doc).document.edition
    links = []
    for p in corpus.editions(doc):
        d = p.document
        note = "、".join(x for x in ((wareki_iso(d.date) if d.date else "日付なし"),
                                     "現行" if d.edition == current else "") if x)
        links.append(Link(edition_name(d), document_url(doc, d.edition), note))
    return links


def _document_links(corpus: Corpus) -> list[Link]:
    return [Link(corpus.get(d).document.title, document_url(d)) for d in corpus.doc_ids]


def _missing_edition(corpus: Corpus, doc: str, request: Request) -> ErrorPage:
    title = corpus.get(doc).document.title
    have = {p.document.edition for p in corpus.editions(doc)}
    asked = [n for n in (_int(request.query_params.get(k)) for k in ("edition", "from", "to")) if n is not None]
    missing = [n for n in asked if n not in have]
    what = "・".join(f"第{n}版" for n in missing) or "指定された版"
    links = _edition_links(corpus, doc)
    hint = None
    if request.url.path.endswith("/diff") and len(have) >= 2:
        old, new = sorted(have)[-2:]
        links.append(Link(f"新旧対照表（第{old}版 → 第{new}版）", f"{document_url(doc)}/diff?from={old}&to={new}"))
    elif request.url.path.endswith("/diff"):
        hint = "この文書は版が一つしか登録されていないため、新旧対照表は作れません。"
    return ErrorPage(404, "指定された版が見つかりません", f"「{title}」に{what}は登録されていません。", hint,
                     "登録されている版", links)


def for_error(request: Request, status: int, exc: Exception | None) -> ErrorPage:
    """The page for an error raised while answering ``request``."""
    kind = type(exc).__name__ if exc is not None else ""
    corpus = _corpus(request)
    doc = request.path_params.get("doc")
    try:
        if kind == "DocumentNotFound":
            links = _document_links(corpus) if corpus else []
            return ErrorPage(404, "文書が見つかりません", f"文書「{doc or ''}」は登録されていません。",
                             "文書一覧から選んでください。", "登録されている文書", links)
        if kind == "EditionNotFound" and corpus and doc:
            return _missing_edition(corpus, doc, request)
        if kind == "ClauseNotFound" and corpus and doc:
            d = corpus.get(doc, _int(request.query_params.get("edition"))).document
            section = request.path_params.get("section", "")
            return ErrorPage(404, "条項が見つかりません",
                             f"「{d.title}」（{edition_name(d)}）に条項「{section}」はありません。",
                             "目次から条項を選んでください。", "この文書", [Link(f"{d.title}の目次",
                                                                               document_url(doc, d.edition))])
    except RegkbError:  # the request named something else that does not exist either: the generic page will do
        log.debug("no details for the error page of %s", request.url.path)
    if kind == "SourceNotStored":
        return ErrorPage(404, "PDFがありません", "この文書はPDFから取り込まれていないか、PDFが保存されていません。",
                         "条項の本文は文書のページで読めます。", "この文書",
                         [Link("文書のページ", document_url(doc))] if doc else [])
    if kind in ("IndexNotBuilt", "IndexMismatch"):
        return ErrorPage(503, STATUS_TITLES[503], "検索インデックスが読み込まれていないため、検索と文書の表示ができません。",
                         "管理者に連絡してください（regkb ingest の後に regkb build を実行します）。")
    if kind in ("RequestValidationError", "BadQuery") or status == 422:
        return ErrorPage(422, STATUS_TITLES[422], _validation_message(exc), "値を確かめて、もう一度お試しください。")
    if status == 404:
        return ErrorPage(404, STATUS_TITLES[404], "お探しのページは見つかりませんでした。アドレスを確認してください。",
                         None, "ここから探せます", [Link("検索", "/"), Link("文書一覧", "/documents")])
    if status >= 500:
        return ErrorPage(status, STATUS_TITLES.get(status, STATUS_TITLES[500]),
                         "ページを表示できませんでした。時間をおいて、もう一度お試しください。")
    return ErrorPage(status, STATUS_TITLES.get(status, "このページは表示できません"),
                     "このリクエストにはお答えできませんでした。")


def _validation_message(exc: Exception | None) -> str:
    errors = exc.errors() if exc is not None and hasattr(exc, "errors") else []
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())[1:]]
        name = PARAM_NAMES.get(loc[0], loc[0]) if loc else "入力"
        kind = str(err.get("type", ""))
        if kind == "missing":
            parts.append(f"{name}を指定してください。")
        elif kind.startswith(("int", "greater", "less")):
            parts.append(f"{name}は正しい範囲の整数で指定してください。")
        else:
            parts.append(f"{name}の値が正しくありません。")
    return "".join(dict.fromkeys(parts)) or "入力された値が正しくありません。"
