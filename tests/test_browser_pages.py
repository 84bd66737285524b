"""The web page as staff use it (issue 15), in Debian's Chromium driven by Playwright, against one real server.

One server per module over the bundled corpus, the synthetic Q&A 第1版 and a ministry-style Q&A PDF (第3版, one
item underlined whole, number included); the hybrid index, so the verdicts are the real ones. Each test is one
point of the issue: editions that exist, verdict banners, citations that travel, PDF pages, changes, offline API
docs, Japanese error pages, accessibility (axe-core, 0 serious or critical violations), and the smaller points.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, REQUIRED, regkb_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(),
                       reason=f"Chromium not installed at {CHROMIUM}: run `bash tests/setup_browser.sh` (as root)"),
]

QUESTION = "学校保健安全法に基づく医療費援助はこの補助金の対象ですか"
ANSWER = "学校保健安全法に基づく医療費援助についても、オンライン資格確認や本補助金の対象となります。"
QA_TITLE = "令和8年度 医療費助成のオンライン資格確認の先行実施のための自治体システム改修等事業補助金に関するQ&A"
OUT_OF_SCOPE = "児童手当の支給額はいくらですか"
# Questions from inside and far outside the documents: the search's calibration decides each verdict, the page must
# say what that verdict means (and between them they give all three).
VERDICT_QUESTIONS = (QUESTION, OUT_OF_SCOPE, "がいさんばらいはできますか", "自治体の職員の人件費は対象ですか",
                     "今日の天気はどうですか", "ごみの収集日はいつですか", "保育園の入園申込の方法",
                     "介護保険料の減免はできますか")
PDF_LINES = ["令和9年度 テスト事業補助金に関するQ&A", "(第3版)", "", "令和9年4月1日", "", "1. 申請", "",
             "1-1 申請期限はいつまでか。", "→ 申請期限は令和10年3月31日までとする。", "",
             "1-2 新しく追加された問いである。", "→ 新しく追加された答えである。", "",
             "1-3 変わらない問い。", "→ 変わらない答え。"]
PDF_UNDERLINED = ["1-2 新しく追加された問いである。", "→ 新しく追加された答えである。"]


def _playwright() -> Any:
    if REQUIRED:
        import playwright.sync_api as sync_api
        return sync_api
    return pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(built_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`regkb serve` over a copy of the built data plus a ministry-style Q&A PDF; stopped by its own pid."""
    from corpus.store import Store
    from index.build import build_index
    from ingest.pipeline import Overrides, ingest_paths
    from tests.pdfgen import render_text_pdf

    tmp = tmp_path_factory.mktemp("pages")
    data = tmp / "data"
    shutil.copytree(built_data_dir, data)  # the embedding cache comes along: only the PDF's passages are new
    pdf = render_text_pdf(tmp / "test-qa.pdf", "\n".join(PDF_LINES), underline=PDF_UNDERLINED, lines_per_page=8)
    ingest_paths([pdf], Store(data), Overrides(doc_id="test-qa"))
    build_index(data)
    with regkb_server(data, tmp / "server.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser(site: str) -> Iterator[Any]:
    sync_api = _playwright()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Tab:
    """A page with its console errors and uncaught exceptions collected (CSP violations show up there)."""

    def __init__(self, browser: Any, width: int = 1280, clipboard: bool = False) -> None:
        perms = ["clipboard-read", "clipboard-write"] if clipboard else []
        self.context = browser.new_context(locale="ja-JP", viewport={"width": width, "height": 900}, permissions=perms)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.error_page_expected = False  # Chromium logs the 404/422 of an error page itself as a console error
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))

    def close(self, expect_clean: bool = True) -> None:
        self.context.close()
        if expect_clean:
            problems = [p for p in self.problems
                        if not (self.error_page_expected and p.startswith("Failed to load resource: the server "
                                                                           "responded with a status of 4"))]
            assert not problems, problems


@pytest.fixture()
def tab(browser: Any) -> Iterator[Tab]:
    t = Tab(browser, clipboard=True)
    yield t
    t.close()


def search_url(site: str, q: str, **params: str) -> str:
    return f"{site}/?{urllib.parse.urlencode({'q': q, **params})}"


def api_json(url: str) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"})) as r:
        return json.load(r)


def expect() -> Any:
    return _playwright().expect


# -- 1. editions that exist ------------------------------------------------------------------------------------------


def test_edition_controls_offer_only_existing_editions(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(site + "/")
    edition = page.locator("select#edition")
    assert edition.is_disabled()  # every document: no single edition to choose
    page.select_option("select#doc", "jisshi-youkou")
    options = edition.locator("option").all_inner_texts()
    assert options == ["最新版", "第1版・令和7年4月1日（2025-04-01）・現行"]
    page.select_option("select#doc", "hojokin-qa")
    assert edition.locator("option").all_inner_texts() == [
        "最新版", "第2版・令和8年3月9日（2026-03-09）・現行", "第1版・令和8年2月6日（2026-02-06）"]
    page.select_option("select#edition", "1")
    page.locator("input[name=q]").fill(QUESTION)
    page.locator("input[name=q]").press("Enter")
    page.wait_for_url("**/?q=*")
    citations = page.locator("li.hit .lead .badge.citation").all_inner_texts()
    assert citations and all(c.startswith("Q&A（第1版）") for c in citations), citations
    expect()(page.locator("select#edition option:checked")).to_have_text("第1版・令和8年2月6日（2026-02-06）")


def test_documents_list_marks_the_edition_in_force(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(site + "/documents")
    qa = page.locator("ul.documents > li", has=page.locator(f"a:text-is('{QA_TITLE}')"))
    editions = qa.locator("ul.editions li").all_inner_texts()
    assert editions[0].startswith("第2版") and "令和8年3月9日（2026-03-09）" in editions[0] and "現行" in editions[0]
    assert "第1版" in editions[1] and "現行" not in editions[1]
    page.goto(site + "/documents/hojokin-qa")
    expect()(page.locator("p.meta .badge.current")).to_have_text("現行")


def test_diff_of_an_edition_that_does_not_exist_is_a_japanese_page(site: str, tab: Tab) -> None:
    tab.error_page_expected = True
    page = tab.page
    response = page.goto(site + "/documents/test-qa/diff?from=1&to=2")
    assert response is not None and response.status == 404
    expect()(page.locator("h1")).to_have_text("指定された版が見つかりません")
    expect()(page.locator(".message")).to_contain_text("第1版・第2版は登録されていません")
    links = page.locator("ul.error-links a")
    expect()(links).to_have_count(1)
    expect()(links.first).to_have_text("第3版")
    assert "edition" not in page.locator("main").inner_text()
    links.first.click()
    page.wait_for_url("**/documents/test-qa?edition=3")


def test_as_of_leaves_out_undated_documents_and_says_so(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(search_url(site, "PMH先行実施の説明資料", as_of="2020-01-01"))
    assert "PMH先行実施説明資料" not in " ".join(page.locator("li.hit .badge.citation").all_inner_texts())
    note = page.locator(".message.asof")
    expect()(note).to_contain_text("基準日 令和2年1月1日（2020-01-01）")
    expect()(note).to_contain_text("説明資料（令和5年度）」は日付なしのため")
    data = api_json(f"{site}/search?q=PMH&as_of=2020-01-01")
    assert {"doc": "pmh-senko-r5", "reason": "undated"} in [{k: x[k] for k in ("doc", "reason")}
                                                             for x in data["as_of_excluded"]]
    assert all(h["doc"] != "pmh-senko-r5" for h in data["hits"])


# -- 2. what the verdict means -----------------------------------------------------------------------------------------


def test_banner_follows_the_verdict(site: str, tab: Tab) -> None:
    page = tab.page
    seen = {}
    for q in VERDICT_QUESTIONS:
        verdict = api_json(f"{site}/search?{urllib.parse.urlencode({'q': q})}")["verdict"]
        seen[q] = verdict
        page.goto(search_url(site, q))
        banner = page.locator(".message.verdict")
        if verdict == "answer":
            expect()(banner).to_have_count(0)  # no hedging: the first hit leads (with its answer, for a Q&A item)
            expect()(page.locator("li.hit").first.locator(".lead .badge.citation")).to_be_visible()
            if q == QUESTION:
                expect()(page.locator("li.hit").first.locator(".answer")).to_have_text(ANSWER)
        elif verdict == "check":
            expect()(banner).to_have_class(re.compile(r"\bcheck\b"))
            expect()(banner).to_contain_text("関連する条項です。内容を確認してください。")
        else:
            expect()(banner).to_have_class(re.compile(r"\bout_of_scope\b"))
            expect()(banner).to_contain_text("この資料群はこの質問を扱っていません。")
        assert re.search(r"確からしさ [01]\.\d\d", page.locator("#results-heading").inner_text())
    assert seen[QUESTION] == "answer"
    # The calibration decides the rest; these questions span it (each banner's wording is also checked for every
    # verdict, independently of the calibration, in tests/test_web_helpers.py).
    assert len(set(seen.values())) >= 2, seen


# -- 3. citations that travel ----------------------------------------------------------------------------------------


def test_copied_citation_has_title_edition_date_clause_and_url(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(search_url(site, QUESTION))
    first = page.locator("li.hit").first
    first.locator("button.copy").first.click()
    expect()(first.locator("button.copy").first).to_have_text("コピーしました")
    url = f"{site}/documents/hojokin-qa/clauses/2-9?edition=2"
    plain = page.evaluate("navigator.clipboard.readText()")
    assert plain == f"{ANSWER}\n出典：Q&A（第2版）2-9（{QA_TITLE}、令和8年3月9日）\n{url}"
    first.locator("button.copy.md").click()
    md = page.evaluate("navigator.clipboard.readText()")
    assert md.startswith(f"> {ANSWER}\n\n出典：[Q&A（第2版）2-9]({url})") and "令和8年3月9日" in md
    first.locator("button.copy").first.focus()  # the keyboard works too
    page.keyboard.press("Enter")
    assert page.evaluate("navigator.clipboard.readText()") == plain
    with urllib.request.urlopen(url) as r:  # the copied link opens the clause
        assert r.status == 200


def test_slide_citation_does_not_copy_a_heading_as_an_answer(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(search_url(site, "PMHの先行実施の流れ", doc="pmh-senko-r5"))
    first = page.locator("li.hit").first
    heading = first.locator("h3.heading").inner_text().rstrip("…")
    first.locator("button.copy").first.click()
    text = page.evaluate("navigator.clipboard.readText()")
    assert text.startswith("出典：PMH先行実施説明資料（令和5年度）p")
    assert heading[:20] not in text and "日付なし" in text and f"{site}/documents/pmh-senko-r5/clauses/p" in text


# -- 4. pages of the source ------------------------------------------------------------------------------------------


def test_pages_only_for_pdfs_and_linked_to_the_stored_pdf(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(site + "/documents/hojokin-qa/clauses/2-9")  # ingested from text: its pages would be guesses
    assert "ページ" not in page.locator("article.clause p.meta").inner_text()
    page.goto(site + "/documents/test-qa/clauses/1-2")
    link = page.locator("article.clause p.meta .pages a").first
    expect()(link).to_be_visible()
    href = link.get_attribute("href")
    assert href is not None and re.fullmatch(r"/documents/test-qa/pdf\?edition=3#page=\d+", href)
    with urllib.request.urlopen(site + href.split("#")[0]) as r:
        assert r.headers["content-type"] == "application/pdf" and r.read(5) == b"%PDF-"
    assert api_json(f"{site}/documents/hojokin-qa/clauses/2-9")["pages"] == []


# -- 5. what changed ---------------------------------------------------------------------------------------------------


def test_change_badge_opens_the_row_and_the_old_text(site: str, tab: Tab) -> None:
    outline = api_json(f"{site}/documents/hojokin-qa")["outline"]
    changed = next(i for i in outline if i["note"] and i["note"].endswith("で変更"))
    page = tab.page
    page.goto(site + changed["url"])
    expect()(page.locator("details.old-text summary")).to_contain_text("改正前（第1版）")
    page.locator("article.clause .lead a.badge.note").click()
    page.wait_for_url(re.compile(r"/documents/hojokin-qa/diff\?from=1&to=2#s-"))
    row = page.locator("tr:target")
    expect()(row).to_have_count(1)
    expect()(row.locator("td.new .sec")).to_have_text(changed["section"])
    assert row.locator("td.old").inner_text().strip()  # the old text is there
    assert row.evaluate("r => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.top < innerHeight; }")
    expect()(page.locator("nav.crumbs")).to_contain_text(QA_TITLE)  # the title, not the id
    assert "hojokin-qa" not in page.locator("nav.crumbs").inner_text()


def test_diff_table_shows_one_character_changes_and_uses_the_width(site: str, browser: Any) -> None:
    wide = Tab(browser, width=1280)
    page = wide.page
    page.goto(site + "/documents/hojokin-qa/diff?from=1&to=2")
    one_char = page.locator("table.shinkyu ins").filter(has_text=re.compile(r"^\S$")).first
    style = one_char.evaluate("e => { const s = getComputedStyle(e); return [s.fontWeight, s.textDecorationLine, "
                              "s.boxShadow]; }")
    assert int(style[0]) >= 700 and "underline" in style[1] and style[2] != "none", style
    deleted = page.locator("table.shinkyu del").first
    assert "line-through" in deleted.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert page.locator("table.shinkyu").evaluate("t => t.getBoundingClientRect().width") > 1100
    wide.close()
    phone = Tab(browser, width=390)
    page = phone.page
    page.goto(site + "/documents/hojokin-qa/diff?from=1&to=2")
    table_w = page.locator("table.shinkyu").evaluate("t => t.getBoundingClientRect().width")
    kubun_w = page.locator("table.shinkyu th.kubun").evaluate("t => t.getBoundingClientRect().width")
    assert kubun_w < 0.2 * table_w, (kubun_w, table_w)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone.close()


def test_underlined_item_opening_is_marked_as_changed(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(site + "/documents/test-qa/clauses/1-2")
    expect()(page.locator(".clause-text u.changed")).to_contain_text("新しく追加された問いである。")
    expect()(page.locator(".clause-text u.changed")).to_contain_text("新しく追加された答えである。")
    page.goto(site + "/documents/test-qa/clauses/1-3")
    expect()(page.locator(".clause-text u.changed")).to_have_count(0)


# -- 6. API docs offline -----------------------------------------------------------------------------------------------


def test_api_docs_work_offline(site: str, browser: Any) -> None:
    t = Tab(browser)
    page = t.page
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(site) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(site + "/docs")
    expect()(page.locator(".swagger-ui .info .title")).to_contain_text("regkb")
    expect()(page.locator(".swagger-ui .opblock-summary-path").first).to_be_visible()
    assert not outside, outside
    t.error_page_expected = True
    response = page.goto(site + "/redoc")
    assert response is not None and response.status == 404
    t.close()


# -- 7. Japanese error pages -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "status", "title"), [
    ("/documents/nope", 404, "文書が見つかりません"),
    ("/no/such/page", 404, "ページが見つかりません"),
    ("/documents/hojokin-qa/clauses/9-9", 404, "条項が見つかりません"),
    ("/documents/hojokin-qa?edition=abc", 422, "入力内容を確認してください"),
    ("/documents/hojokin-qa/diff?from=x&to=2", 422, "入力内容を確認してください"),
    ("/documents/hojokin-qa/pdf", 404, "PDFがありません"),
])
def test_error_pages_speak_japanese(site: str, tab: Tab, path: str, status: int, title: str) -> None:
    tab.error_page_expected = True
    page = tab.page
    response = page.goto(site + path)
    assert response is not None and response.status == status
    expect()(page.locator("h1")).to_have_text(title)
    text = page.locator("main").inner_text()
    assert not re.search(r"[A-Za-z]{4,} [a-z]{2,}", text), text  # no English sentence (ids like hojokin-qa are fine)
    assert "Not Found" not in text and "unknown" not in text and "known documents" not in text


def test_json_api_keeps_english_errors(site: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as e:
        api_json(f"{site}/documents/nope")
    body = json.load(e.value)
    assert e.value.code == 404 and body["error"]["message"] == "unknown document 'nope'"


# -- 8. accessibility ------------------------------------------------------------------------------------------------


def _axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text("utf-8")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())  # evaluated by the test harness: the page's CSP does not apply
    violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target)}))""")
    return [v for v in violations if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("path", [
    "/", "/?q=" + urllib.parse.quote(QUESTION), "/?q=" + urllib.parse.quote(OUT_OF_SCOPE),
    "/?q=" + urllib.parse.quote("がいさんばらいはできますか"), "/documents", "/documents/hojokin-qa",
    "/documents/hojokin-qa/clauses/2-9", "/documents/hojokin-qa/diff?from=1&to=2", "/documents/nope",
])
def test_axe_finds_no_serious_violations(site: str, browser: Any, path: str) -> None:
    for width in (1280, 390):
        t = Tab(browser, width=width)
        t.error_page_expected = path == "/documents/nope"
        t.page.goto(site + path)
        assert serious_violations(t.page) == [], (path, width)
        t.close()


def test_skip_link_and_focus_on_results(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(site + "/documents")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect()(skip).to_be_focused()
    expect()(skip).to_have_text("本文へ移動")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto(site + "/")
    page.locator("input[name=q]").fill(QUESTION)
    page.locator("input[name=q]").press("Enter")
    page.wait_for_url("**/?q=*")
    expect()(page.locator("#results-heading")).to_be_focused()
    for _ in range(3):  # the first result is a few Tab presses away, not 11
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('li.hit') !== null"):
            break
    assert page.evaluate("document.activeElement.closest('li.hit') !== null")


# -- 9. the smaller points ---------------------------------------------------------------------------------------------


def test_start_page_offers_example_questions(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(site + "/")
    examples = page.locator("ul.examples a")
    assert examples.count() >= 3
    examples.first.click()
    page.wait_for_url("**/?q=*")
    expect()(page.locator("li.hit").first).to_be_visible()


def test_phone_placeholder_fits(site: str, browser: Any) -> None:
    t = Tab(browser, width=390)
    t.page.goto(site + "/")
    fits = t.page.locator("input[name=q]").evaluate("""e => {
        const s = getComputedStyle(e), c = document.createElement('canvas').getContext('2d');
        c.font = `${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
        const room = e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
        return [c.measureText(e.placeholder).width, room]; }""")
    assert fits[0] <= fits[1], fits
    t.close()


def test_print_shows_results_only(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(search_url(site, QUESTION))
    page.emulate_media(media="print")
    for hidden in ("form.search", "header.site", "footer.site", "li.hit button", "li.hit .actions"):
        assert all(not x.is_visible() for x in page.locator(hidden).all()), hidden
    expect()(page.locator("li.hit").first).to_be_visible()
    pdf = page.pdf(format="A4")
    import pdfplumber

    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        pages = len(doc.pages)
    assert pages <= 3, pages


def test_document_select_reads_titles(site: str, tab: Tab) -> None:
    page = tab.page
    page.goto(site + "/")
    option = page.locator("select#doc option[value=hojokin-qa]")
    expect()(option).to_have_text(QA_TITLE)
    texts = page.locator("select#doc option").all_inner_texts()
    assert not any(re.search(r"(.+)（\1）", t) for t in texts), texts  # never 「Q&A（Q&A）」
