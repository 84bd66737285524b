"""The web app over the real small index: JSON API, error shapes, security headers and the search page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import CSP, create_app
from api.routes import marked, underlined
from api.settings import Settings
from corpus.collection import Corpus
from corpus.model import Clause, Document, ParsedDocument, Span

QUESTION = "学校保健安全法に基づく医療費援助はこの補助金の対象ですか"
HTML = {"Accept": "text/html,application/xhtml+xml"}
SECURITY = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


@pytest.fixture(scope="module")
def client(built_data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=built_data_dir))) as c:  # `with` runs the lifespan (index load)
        yield c


def assert_error(r: Any, status: int, kind: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert "Traceback" not in r.text
    err = r.json()["error"]
    assert err["message"]
    if kind:
        assert err["type"] == kind
    return err


# -- health, search ------------------------------------------------------------------------------------------------


def test_health(client: TestClient, built_data_dir: Path) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    current = (built_data_dir / "index" / "CURRENT").read_text().strip()
    assert body["status"] == "ok" and body["build_id"] == current
    # the five bundled documents, the seven statutes they cite, and the synthetic 第1版 of the Q&A
    assert body["documents"] == 12 and body["editions"] == 13 and body["clauses"] > 100
    for name, value in SECURITY.items():
        assert r.headers[name] == value


def test_search_answers_with_citation(client: TestClient) -> None:
    r = client.get("/search", params={"q": QUESTION, "k": 5})
    assert r.status_code == 200
    body = r.json()
    top = body["hits"][0]
    assert top["citation"] == "Q&A（第2版）2-9"
    assert top["answer"].startswith("学校保健安全法に基づく医療費援助についても")
    assert top["note"] == "第2版で追記"
    assert top["url"] == "/documents/hojokin-qa/clauses/2-9?edition=2"
    assert body["confident"] is True and body["answer"] == top["answer"]
    assert body["method"] == "learned" and body["mode"] == "hybrid" and body["took_ms"] >= 0
    assert 0.0 <= body["probability"] <= 1.0 and body["verdict"] == "answer"
    assert len(body["hits"]) == 5
    s, e = top["snippet_highlights"][0]
    assert 0 <= s < e <= len(top["snippet"])


@pytest.mark.parametrize("as_of", ["2026-02-20", "令和8年2月20日"])
def test_search_as_of_gives_edition_1(client: TestClient, as_of: str) -> None:
    r = client.get("/search", params={"q": "学校保健安全法", "doc": "hojokin-qa", "as_of": as_of})
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert hits and all(h["edition"] == 1 and "第1版" in h["citation"] for h in hits)
    assert r.json()["filters"]["as_of"] == "2026-02-20"


def test_search_filters(client: TestClient) -> None:
    hits = client.get("/search", params={"q": "補助対象", "kind": "youkou"}).json()["hits"]
    assert hits and {h["doc"] for h in hits} == {"jisshi-youkou"}
    hits = client.get("/search", params={"q": "補助対象", "doc": "hojokin-qa", "edition": 1}).json()["hits"]
    assert hits and all(h["edition"] == 1 for h in hits)
    assert client.get("/search", params={"q": "補助対象", "mode": "bm25"}).json()["method"] == "bm25"


def test_search_low_confidence(client: TestClient) -> None:
    body = client.get("/search", params={"q": "今日の天気はどうですか"}).json()
    assert body["confident"] is False and body["answer"] is None


@pytest.mark.parametrize(("params", "status", "kind"), [
    ({}, 422, None),
    ({"q": ""}, 422, None),
    ({"q": "   \u3000 "}, 422, "BadQuery"),
    ({"q": "あ" * 501}, 422, None),
    ({"q": "補助", "k": 0}, 422, None),
    ({"q": "補助", "k": 51}, 422, None),
    ({"q": "補助", "k": "many"}, 422, None),
    ({"q": "補助", "doc": "no-such-doc"}, 404, "DocumentNotFound"),
    ({"q": "補助", "doc": "hojokin-qa", "edition": 9}, 404, "EditionNotFound"),
    ({"q": "補助", "edition": 0}, 422, None),
    ({"q": "補助", "edition": 2**64}, 422, None),  # was echoed into the filters and broke the JSON encoder: a 500
    ({"q": "補助", "as_of": "someday"}, 422, "BadQuery"),
    ({"q": "補助", "as_of": "2026-02-30"}, 422, "BadQuery"),
    ({"q": "補助", "kind": "nope"}, 422, None),
    ({"q": "補助", "mode": "magic"}, 422, None),
])
def test_search_errors(client: TestClient, params: dict[str, Any], status: int, kind: str | None) -> None:
    assert_error(client.get("/search", params=params), status, kind)


def test_query_at_the_limit_is_accepted(client: TestClient) -> None:
    assert client.get("/search", params={"q": "補助金" * 166 + "か", "k": 1}).status_code == 200  # 499 chars


@pytest.mark.parametrize("limit, status", [(None, 422), ("800", 200)])
def test_query_limit_comes_from_the_settings(built_data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                             limit: str | None, status: int) -> None:
    """REGKB_MAX_QUERY_CHARS reaches the search itself, not only the API's schema."""
    if limit is None:
        monkeypatch.delenv("REGKB_MAX_QUERY_CHARS", raising=False)
    else:
        monkeypatch.setenv("REGKB_MAX_QUERY_CHARS", limit)
    settings = Settings(data_dir=built_data_dir)
    with TestClient(create_app(settings)) as c:
        assert c.app.state.searcher.max_query_chars == settings.max_query_chars  # type: ignore[attr-defined]
        question = (QUESTION * 40)[:700]
        r = c.get("/search", params={"q": question, "k": 1})
        assert r.status_code == status, r.text
        if status == 422:
            assert "500" in r.json()["error"]["message"]
        else:
            assert r.json()["hits"]


def test_openapi_documents_the_limits(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert params["q"]["schema"]["maxLength"] == 500 and "500" in params["q"]["description"]
    assert params["k"]["schema"]["maximum"] == 50
    assert "/documents/{doc}/clauses/{section}" in spec["paths"] and "/" not in spec["paths"]
    docs = client.get("/docs")  # Swagger UI from the package's files: no CDN, no inline script
    assert docs.status_code == 200 and "cdn.jsdelivr.net" not in docs.text
    assert "script-src 'self';" in docs.headers["content-security-policy"]
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


# -- documents and clauses -----------------------------------------------------------------------------------------


def test_documents(client: TestClient) -> None:
    docs = {d["id"]: d for d in client.get("/documents").json()}
    subsidy = {d for d, v in docs.items() if v["kind"] != "law"}
    assert subsidy == {"hojokin-qa", "iryo-dx-pmh", "jimu-renraku-20250522", "jisshi-youkou", "pmh-senko-r5"}
    assert {d for d, v in docs.items() if v["kind"] == "law"} >= {"340AC0000000141", "426AC0000000050"}
    qa = docs["hojokin-qa"]
    assert qa["latest_edition"] == 2 and [e["edition"] for e in qa["editions"]] == [1, 2]
    assert qa["editions"][0]["issued"] == "2026-02-06" and qa["editions"][1]["clause_count"] == 32


def test_document_detail(client: TestClient) -> None:
    d = client.get("/documents/hojokin-qa").json()
    assert d["edition"] == 2 and d["edition_label"] == "第2版" and len(d["outline"]) == 32
    item = next(o for o in d["outline"] if o["section"] == "2-9")
    assert item["parent"] == "2" and item["depth"] == 1 and item["citation"] == "Q&A（第2版）2-9"
    d1 = client.get("/documents/hojokin-qa", params={"edition": 1}).json()
    assert d1["edition"] == 1 and len(d1["outline"]) == 28
    assert_error(client.get("/documents/nope"), 404, "DocumentNotFound")
    assert_error(client.get("/documents/hojokin-qa", params={"edition": 7}), 404, "EditionNotFound")
    assert_error(client.get("/documents/hojokin-qa", params={"edition": 0}), 422)


def test_clause(client: TestClient) -> None:
    c = client.get("/documents/hojokin-qa/clauses/2-9").json()
    assert c["citation"] == "Q&A（第2版）2-9" and c["edition"] == 2 and c["note"] == "第2版で追記"
    assert c["answer"].startswith("学校保健安全法に基づく医療費援助についても")
    assert c["parent"]["section"] == "2" and c["previous"]["section"] == "2-8" and c["next"]["section"] == "2-10"
    # 2-9 cites 実施要綱4（2）エ; every ref resolves and is mirrored in the target's cited_by
    assert "実施要綱 4(2)エ" in [r["citation"] for r in c["refs"]]
    for ref in c["refs"]:
        assert ref["found"] and ref["url"]
        target = client.get(f"/documents/{ref['doc']}/clauses/{ref['section']}", params={"edition": ref["edition"]})
        assert c["key"] in [r["key"] for r in target.json()["cited_by"]]
    group = client.get("/documents/hojokin-qa/clauses/2").json()
    assert "2-9" in [ch["section"] for ch in group["children"]]
    old = client.get("/documents/hojokin-qa/clauses/2-9", params={"edition": 1}).json()
    assert old["citation"] == "Q&A（第1版）2-9" and old["latest_edition"] == 2


@pytest.mark.parametrize("section", ["4(2)エ", "４（２）エ", "4 (2) エ", "4%282%29%E3%82%A8"])
def test_clause_section_spellings(client: TestClient, section: str) -> None:
    r = client.get(f"/documents/jisshi-youkou/clauses/{section}")
    assert r.status_code == 200, r.text
    assert r.json()["citation"] == "実施要綱 4(2)エ" and r.json()["parent"]["section"] == "4(2)"


def test_clause_errors(client: TestClient) -> None:
    assert_error(client.get("/documents/nope/clauses/1"), 404, "DocumentNotFound")
    assert_error(client.get("/documents/hojokin-qa/clauses/9-9"), 404, "ClauseNotFound")
    assert_error(client.get("/documents/hojokin-qa/clauses/2-9", params={"edition": 5}), 404, "EditionNotFound")
    assert_error(client.get("/no/such/path"), 404)


# -- the search page -----------------------------------------------------------------------------------------------


def assert_safe_html(r: Any) -> None:
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CSP
    for name, value in SECURITY.items():
        assert r.headers[name] == value
    assert "Traceback" not in r.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), "inline script"
    assert " style=" not in r.text and "<style" not in r.text, "inline style"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", r.text), "external resource"


def test_search_page_leads_with_answer(client: TestClient) -> None:
    r = client.get("/", params={"q": QUESTION})
    assert r.status_code == 200
    assert_safe_html(r)
    first = r.text.split('<li class="hit">')[1]
    assert first.index('class="answer"') < first.index('class="badge citation"') < first.index('class="heading"')
    assert '<span class="badge citation">Q&amp;A（第2版）2-9</span>' in first
    assert 'class="badge note" href="/documents/hojokin-qa/diff?from=1&amp;to=2#s-2-9"' in first and "第2版で追記" in first
    assert "<mark>" in first
    assert 'href="/documents/hojokin-qa/clauses/2-9?edition=2"' in first
    assert ('data-copy="学校保健安全法に基づく医療費援助についても、オンライン資格確認や本補助金の対象となります。\n'
            '出典：Q&amp;A（第2版）2-9（') in first and '/documents/hojokin-qa/clauses/2-9?edition=2"' in first
    assert 'name="q"' in r.text and 'value="hojokin-qa"' in r.text


def test_search_page_escapes_the_query(client: TestClient) -> None:
    r = client.get("/", params={"q": "<script>alert(1)</script>"})
    assert r.status_code == 200
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert_safe_html(r)


def test_search_page_low_confidence(client: TestClient) -> None:
    r = client.get("/", params={"q": "今日の天気はどうですか"})
    assert "この資料群はこの質問を扱っていません。" in r.text or "関連する条項です。内容を確認してください。" in r.text
    assert 'class="hits weak"' in r.text and '<li class="hit">' in r.text


def test_a_citation_the_corpus_lacks_is_said_so(client: TestClient) -> None:
    body = client.get("/search", params={"q": "Q&A 9-9"}).json()
    assert body["unresolved_citations"] == ["Q&A 9-9"]
    assert body["verdict"] == "out_of_scope" and not body["confident"] and body["answer"] is None
    assert client.get("/search", params={"q": "Q&A 1-2"}).json()["unresolved_citations"] == []
    page = client.get("/", params={"q": "Q&A 9-9"})
    assert "「Q&amp;A 9-9」は収録した文書にありません" in page.text
    assert_safe_html(page)


@pytest.mark.parametrize(("params", "status", "message"), [
    ({"q": ""}, 200, "質問を入力してください。"),
    ({"q": "   "}, 200, "質問を入力してください。"),
    ({"q": "あ" * 501}, 422, "質問が長すぎます（501文字）。500文字以内で入力してください。"),
    ({"q": "補助", "as_of": "someday"}, 422, "基準日の形式が正しくありません"),
    ({"q": "補助", "doc": "nope"}, 404, "指定された文書または版が見つかりません"),
    ({"q": "補助", "doc": "hojokin-qa", "edition": "x"}, 422, "この条件では検索できませんでした"),
])
def test_search_page_errors(client: TestClient, params: dict[str, str], status: int, message: str) -> None:
    r = client.get("/", params=params)
    assert r.status_code == status
    assert message in r.text and 'role="alert"' in r.text
    assert_safe_html(r)


def test_search_page_without_query(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and 'role="alert"' not in r.text and '<li class="hit">' not in r.text
    assert_safe_html(r)


def test_clause_page(client: TestClient) -> None:
    r = client.get("/documents/hojokin-qa/clauses/2-9", headers=HTML)
    assert r.status_code == 200
    assert_safe_html(r)
    assert '<span class="badge citation">Q&amp;A（第2版）2-9</span>' in r.text
    assert "<h1>学校保健安全法に基づく医療費援助については、オンライン資格確認や本補助金の対象になるのか。</h1>" in r.text
    assert 'href="/documents/hojokin-qa/clauses/2?edition=2"' in r.text  # parent
    assert 'href="/documents/hojokin-qa/clauses/2-8?edition=2"' in r.text  # previous
    assert 'href="/documents/hojokin-qa/clauses/2-10?edition=2"' in r.text  # next
    assert 'class="copy" data-copy=' in r.text and "第2版" in r.text


def test_document_pages(client: TestClient) -> None:
    r = client.get("/documents/hojokin-qa", params={"edition": 1}, headers=HTML)
    assert r.status_code == 200
    assert_safe_html(r)
    assert 'href="/documents/hojokin-qa/clauses/2-9?edition=1"' in r.text and "data-autosubmit" in r.text
    r = client.get("/documents", headers=HTML)
    assert r.status_code == 200 and 'href="/documents/jisshi-youkou"' in r.text


def test_html_errors_are_pages(client: TestClient) -> None:
    r = client.get("/documents/hojokin-qa/clauses/9-9", headers=HTML)
    assert r.status_code == 404 and "条項が見つかりません" in r.text
    assert_safe_html(r)
    r = client.get("/documents/hojokin-qa", params={"edition": "abc"}, headers=HTML)
    assert r.status_code == 422 and "入力内容を確認してください" in r.text


def test_static_files(client: TestClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "navigator.clipboard" in js.text and "execCommand" in js.text
    assert "@media" in css.text and "font-family: system-ui" in css.text


# -- markup helpers ------------------------------------------------------------------------------------------------


def test_marks_escape_every_segment() -> None:
    assert str(marked("a<b>c&d", [(1, 4)])) == "a<mark>&lt;b&gt;</mark>c&amp;d"
    # unsorted, overlapping and out-of-range spans: each character is emitted once
    assert str(marked("abcdef", [(3, 5), (0, 2), (1, 4), (9, 12)])) == "<mark>ab</mark><mark>cd</mark><mark>e</mark>f"
    assert str(underlined("x<y", [(0, 1)])) == '<u class="changed">x</u>&lt;y'
    assert str(marked("<i>", [])) == "&lt;i&gt;"


# -- hand-made corpus: cross-references, cited_by, changed spans; and a crash ----------------------------------------


def _doc(doc_id: str, kind: str, label: str) -> Document:
    return Document(id=doc_id, title=f"{label}の文書", kind=kind, label=label)  # type: ignore[arg-type]


def _clause(doc: Document, section: str, text: str, parent: str | None = None, refs: tuple[str, ...] = (),
            changed: tuple[Span, ...] = ()) -> Clause:
    return Clause(doc_id=doc.id, edition=1, section=section, kind="clause", parent=parent, heading=text[:20],
                  text=text, citation=doc.citation(section).render(), refs=refs, changed_spans=changed)


def stub_searcher(search: Any = None) -> SimpleNamespace:
    a, b = _doc("a-qa", "qa", "Q&A"), _doc("b-youkou", "youkou", "要綱")
    corpus = Corpus([
        ParsedDocument(a, (_clause(a, "1", "要綱の4(1)アを参照。<b>太字</b>ではない。",
                                   refs=("b-youkou@1#４（１）ア", "b-youkou@1#9", "b-youkou#4")),), ""),
        ParsedDocument(b, (_clause(b, "4", "事業内容"),
                           _clause(b, "4(1)ア", "補助対象は改修費とする。", parent="4", changed=(Span(5, 8),))), ""),
    ])
    return SimpleNamespace(corpus=corpus, manifest={"build_id": "hand-made"}, notes={}, warm_up=lambda: None,
                           search=search)


def test_refs_and_cited_by(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path), searcher=stub_searcher())) as c:  # type: ignore[arg-type]
        citing = c.get("/documents/a-qa/clauses/1").json()
        refs = citing["refs"]
        assert refs[0] == {"key": "b-youkou@1#4(1)ア", "doc": "b-youkou", "edition": 1, "section": "4(1)ア",
                           "citation": "要綱 4(1)ア", "heading": "補助対象は改修費とする。",
                           "url": "/documents/b-youkou/clauses/4(1)%E3%82%A2?edition=1", "found": True}
        assert refs[1]["found"] is False and refs[1]["url"] is None and refs[1]["citation"] == "b-youkou@1#9"
        assert refs[2]["section"] == "4" and refs[2]["found"] is True
        cited = c.get("/documents/b-youkou/clauses/４（１）ア").json()
        assert [r["citation"] for r in cited["cited_by"]] == ["Q&A 1"]
        assert cited["parent"]["section"] == "4" and cited["changed_spans"] == [[5, 8]]
        assert [r["key"] for r in c.get("/documents/b-youkou/clauses/4").json()["cited_by"]] == ["a-qa@1#1"]

        page = c.get("/documents/b-youkou/clauses/4(1)ア", headers=HTML)
        assert "この条項を参照している条項" in page.text and 'href="/documents/a-qa/clauses/1?edition=1"' in page.text
        assert '補助対象は<u class="changed">改修費</u>とする。' in page.text
        page = c.get("/documents/a-qa/clauses/1", headers=HTML)
        assert "&lt;b&gt;太字&lt;/b&gt;" in page.text and "<b>太字" not in page.text
        assert "参照している条項" in page.text and "この版に該当する条項がありません" in page.text


def test_unexpected_errors_are_500_without_details(tmp_path: Path) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    app = create_app(Settings(data_dir=tmp_path), searcher=stub_searcher(explode))  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as c:
        for r in (c.get("/search", params={"q": "補助"}), c.get("/", params={"q": "補助"})):
            assert r.status_code == 500
            assert r.json() == {"error": {"type": "InternalError", "message": "internal error", "hint": None}}
            assert "secret" not in r.text and "Traceback" not in r.text
            assert r.headers["x-content-type-options"] == "nosniff"


def test_without_an_index(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        health = c.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "no-index"
        err = assert_error(c.get("/search", params={"q": "補助"}), 503, "IndexNotBuilt")
        assert "regkb" in err["hint"]
        assert_error(c.get("/documents"), 503, "IndexNotBuilt")
        assert_error(c.get("/documents/hojokin-qa/clauses/2-9"), 503, "IndexNotBuilt")
        page = c.get("/", params={"q": "補助"})
        assert page.status_code == 503 and "検索インデックスが利用できません" in page.text
        assert_safe_html(page)
        assert c.get("/").status_code == 503


def test_edition_diff_json_and_page(client) -> None:  # type: ignore[no-untyped-def]
    import json as _json

    expected = _json.loads((Path(__file__).parent / "data" / "hojokin-qa-edition1-to-2.expected.json").read_text())
    r = client.get("/documents/hojokin-qa/diff", params={"from": 1, "to": 2})
    assert r.status_code == 200
    assert [(i["change"], i["new"], i["old"]) for i in r.json()["items"]] == \
        [(i["change"], i["new"], i["old"]) for i in expected["items"]]
    page = client.get("/documents/hojokin-qa/diff", params={"from": 1, "to": 2, "changed_only": True},
                      headers={"Accept": "text/html"})
    assert page.status_code == 200 and "新旧対照表" in page.text and "<del>5</del>" in page.text
    assert "<style" not in page.text  # CSP: styles come from /shinkyu.css
    assert client.get("/shinkyu.css").headers["content-type"].startswith("text/css")
    assert client.get("/documents/hojokin-qa/diff", params={"from": 1, "to": 9}).status_code == 404
    assert client.get("/documents/nope/diff", params={"from": 1, "to": 2}).status_code == 404


def test_the_words_the_search_added_are_shown(client: TestClient) -> None:
    body = client.get("/search", params={"q": "育生医療は対象になりますか"}).json()
    assert "育成" in body["added_terms"]  # the kanji typo's corpus word (index/homophones.py)
    assert "オンライン資格確認" in client.get("/search", params={"q": "オン資の補助金"}).json()["added_terms"]
    assert client.get("/search", params={"q": "国庫補助額の計算方法"}).json()["added_terms"] == []
    page = client.get("/", params={"q": "育生医療は対象になりますか"})
    added = re.search(r'<p class="message added">(.*?)を補って検索しました。</p>', page.text)
    assert added is not None and "「育成」" in added.group(1)
    assert_safe_html(page)
