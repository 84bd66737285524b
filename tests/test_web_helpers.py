"""Small non-browser checks behind the web page (issue 15): 和暦 dates, editions in force, item-opening underlines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from corpus.collection import Corpus
from corpus.dates import parse_date, wareki, wareki_iso
from corpus.model import Document, ParsedDocument
from ingest.pipeline import Overrides, parse_file
from tests.pdfgen import render_text_pdf


@pytest.mark.parametrize(("day", "text"), [
    (dt.date(2026, 3, 9), "令和8年3月9日"),
    (dt.date(2019, 5, 1), "令和元年5月1日"),
    (dt.date(2019, 4, 30), "平成31年4月30日"),
    (dt.date(1989, 1, 8), "平成元年1月8日"),
    (dt.date(1989, 1, 7), "昭和64年1月7日"),
])
def test_wareki_round_trips(day: dt.date, text: str) -> None:
    assert wareki(day) == text
    assert parse_date(text) == day
    assert wareki_iso(day) == f"{text}（{day.isoformat()}）"


def _doc(doc_id: str, edition: int, issued: dt.date | None) -> ParsedDocument:
    return ParsedDocument(Document(id=doc_id, title=doc_id, kind="qa", label=doc_id, edition=edition,
                                   issued=issued), (), "")


def test_undated_documents_are_never_in_force_on_a_date() -> None:
    corpus = Corpus([_doc("slides", 1, None), _doc("qa", 1, dt.date(2026, 2, 6)), _doc("qa", 2, dt.date(2026, 3, 9))])
    assert corpus.in_force("slides", dt.date(2020, 1, 1)) is None
    assert corpus.in_force("qa", dt.date(2026, 3, 1)).document.edition == 1  # type: ignore[union-attr]
    left_out = {d.id: why for d, why in corpus.out_of_date_range(dt.date(2020, 1, 1))}
    assert left_out == {"slides": "undated", "qa": "later"}
    assert corpus.current("qa", dt.date(2026, 3, 1)).document.edition == 1
    assert corpus.current("qa", dt.date(2026, 4, 1)).document.edition == 2
    assert corpus.current("slides", dt.date(2026, 4, 1)).document.edition == 1


def test_an_underline_that_opens_an_item_is_kept(tmp_path: Path) -> None:
    """Ministries underline a new item whole, number included ("1-2 …" and its answer): the run starts inside the
    item number that the parser drops, and used to vanish with it."""
    source = "\n".join(["令和9年度 テスト事業補助金に関するQ&A", "(第3版)", "", "令和9年4月1日", "", "1. 申請", "",
                        "1-1 申請期限はいつまでか。", "→ 申請期限は令和10年3月31日までとする。", "",
                        "1-2 新しく追加された問いである。", "→ 新しく追加された答えである。", "",
                        "1-3 変わらない問い。", "→ 変わらない答え。"])
    pdf = render_text_pdf(tmp_path / "qa.pdf", source, lines_per_page=8,
                          underline=["1-2 新しく追加された問いである。", "→ 新しく追加された答えである。"])
    parsed = parse_file(pdf, Overrides(doc_id="test-qa"))
    spans = {c.section: [c.text[s.start:s.end] for s in c.changed_spans] for c in parsed.clauses if c.changed_spans}
    assert spans == {"1-2": ["新しく追加された問いである。\n→ 新しく追加された答えである。"]}
    item = next(c for c in parsed.clauses if c.section == "1-2")
    assert item.heading == "新しく追加された問いである。"


@pytest.mark.parametrize(("verdict", "says"), [
    ("answer", None),
    ("check", "関連する条項です。内容を確認してください。"),
    ("out_of_scope", "この資料群はこの質問を扱っていません。"),
])
def test_each_verdict_gets_its_own_banner(verdict: str, says: str | None) -> None:
    """The page's words for each verdict, whatever the calibration gives a particular question."""
    from types import SimpleNamespace

    from api import web
    from api.routes import templates

    hit = SimpleNamespace(answer="対象となります。", kind="item", citation="Q&A（第2版）2-9", note=None, changes_url=None,
                          url="/documents/qa/clauses/2-9?edition=2", heading="対象か。", snippet="対象", snippet_highlights=[],
                          doc_title="Q&A", edition_label="第2版", date="2026-03-09", refs=[], doc="qa", section="2-9",
                          edition=2)
    result = SimpleNamespace(hits=[hit], verdict=verdict, probability=0.42, as_of_excluded=[], took_ms=3.0)
    html = templates.env.get_template("search.html").render(
        q="問い", doc="", edition="", as_of="", max_chars=500, documents=[], editions=[], result=result, error=None,
        examples=(), banner=web.banner(verdict), as_of_date="", base_url="http://x", request=None)
    assert "確からしさ 0.42" in html
    banners = ["関連する条項です。内容を確認してください。", "この資料群はこの質問を扱っていません。"]
    assert [b for b in banners if b in html] == ([says] if says else [])
    if verdict == "out_of_scope":  # the near misses are folded away
        assert "<details class=\"reference\">" in html


def test_diff_cache_lets_an_old_build_go() -> None:
    """The 新旧対照表 cache hangs off the served corpus by a weak reference: after a hot swap the old corpus (and
    its diffs) can be freed, where an lru_cache keyed by corpus kept up to 64 of them alive (issue 10, item 7)."""
    import gc

    from api.routes import diff as diff_route
    from ingest.pipeline import bundled_entries

    qa2 = next(e for e in bundled_entries() if e.overrides.doc_id == "hojokin-qa")
    editions = [parse_file(Path(__file__).parent / "data" / "hojokin-qa-edition1.txt", Overrides(doc_id="hojokin-qa")),
                parse_file(qa2.path, qa2.overrides)]
    old, new = Corpus(editions), Corpus(editions)
    first = diff_route.cached_diff(old, "hojokin-qa", 1, 2)
    assert diff_route.cached_diff(old, "hojokin-qa", 1, 2) is first  # cached while that corpus is served
    diff_route.cached_diff(new, "hojokin-qa", 1, 2)
    assert len(diff_route._CACHE) >= 2
    del old
    gc.collect()
    assert [c for c in diff_route._CACHE.keys() if c is not new] == []


def test_cli_as_of_says_which_documents_it_left_out(built_data_dir: Path) -> None:
    """`regkb search --as-of 2020-01-01` does not return the undated 令和5年度 slides as if in force then: it says so.
    On the session's data directory (the bundled corpus, built): searching only reads it."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent

    def regkb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli.main", "--data-dir", str(built_data_dir), *args],
                              cwd=root, capture_output=True, text=True, timeout=600)

    out = regkb("search", "PMH先行実施の説明資料", "--as-of", "2020-01-01")
    assert out.returncode == 0, out.stderr
    assert "PMH先行実施説明資料（令和5年度）" not in out.stdout.split("」は検索に含めていません")[-1]
    assert "説明資料（令和5年度）」は検索に含めていません — 日付なしのため" in out.stdout
    data = json.loads(regkb("search", "PMH", "--as-of", "2020-01-01", "--json").stdout)
    assert {"doc": "pmh-senko-r5", "reason": "undated"} in [{k: x[k] for k in ("doc", "reason")}
                                                             for x in data["as_of_excluded"]]
    assert all(h["doc"] != "pmh-senko-r5" for h in data["hits"])
