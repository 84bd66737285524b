"""Issue 14 in a real browser (Debian's Chromium via Playwright, as tests/test_browser.py): save an answer from a
search result, ingest 第2版 from the CLI while the server runs, and mark the answer reviewed on 「要確認の回答」 —
all under the pages' strict CSP (any violation or script error fails the test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.store import Store
from index.build import BuildConfig, build_index
from ingest.pipeline import bundled_entries, ingest_paths
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, REQUIRED, regkb_server

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
TOKEN = "browser-helpdesk-token"
EXPECTED = json.loads((DATA / "hojokin-qa-edition1-to-2.expected.json").read_text("utf-8"))
RENUMBERED = next(i for i in EXPECTED["items"] if i["change"] == "renumbered")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(),
                       reason=f"Chromium not installed at {CHROMIUM}: run `bash tests/setup_browser.sh` (as root)"),
]


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path / "data"
    ingest_paths([DATA / "hojokin-qa-edition1.txt"], Store(data_dir))
    build_index(data_dir, BuildConfig(dense=False))  # keyword-only: no model to load
    env = {**os.environ, "REGKB_HELPDESK_TOKEN": TOKEN}
    with regkb_server(data_dir, tmp_path / "server.log", env) as base:
        yield base, data_dir


def get_json(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def test_save_from_results_then_review(server: tuple[str, Path]) -> None:
    base, data_dir = server
    sync_api = pytest.importorskip("playwright.sync_api") if not REQUIRED else __import__("playwright.sync_api").sync_api
    expect = sync_api.expect
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="ja-JP").new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("dialog", lambda d: d.accept(TOKEN))  # the token prompt on the first save

            page.goto(base + "/")
            expect(page.locator(".review-link a")).to_have_text("要確認の回答 0件")
            question = Store(data_dir).load().clause("hojokin-qa", RENUMBERED["old"]).heading
            page.goto(base + "/?" + urllib.parse.urlencode({"q": question, "doc": "hojokin-qa"}))
            hit = page.locator("li.hit", has=page.locator(".badge.citation",
                                                          has_text=f"Q&A（第1版）{RENUMBERED['old']}")).first
            hit.locator("button.save-answer").click()
            expect(hit.locator("button.save-answer")).to_have_text("保存しました")
            saved = get_json(base + "/answers")["answers"]
            assert len(saved) == 1 and saved[0]["citations"][0]["section"] == RENUMBERED["old"]
            answer_id = saved[0]["id"]

            qa2 = next(e.path for e in bundled_entries() if e.overrides.doc_id == "hojokin-qa")
            r = subprocess.run([sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), "ingest", str(qa2),
                                "--doc", "hojokin-qa", "--no-build"], cwd=ROOT, capture_output=True, text=True,
                               timeout=120)
            assert r.returncode == 0, r.stderr

            page.goto(base + "/")
            expect(page.locator(".review-link a")).to_have_text("要確認の回答 1件")
            page.locator(".review-link a").click()
            page.wait_for_url("**/answers/review")
            item = page.locator(f"#answer-{answer_id}")
            expect(item.locator(".badge.status")).to_have_text("番号変更")
            expect(item).to_contain_text(f"Q&A（第2版）{RENUMBERED['new']}")
            expect(item.locator("table.shinkyu")).to_be_visible()
            item.locator("textarea").fill("改訂した回答です。")
            item.locator("button[type=submit]").click()
            expect(item.locator(".review-status")).to_have_text("確認済みにしました")
            a = get_json(f"{base}/answers/{answer_id}")
            assert a["status"] == "current" and a["answer"] == "改訂した回答です。"
            assert (a["citations"][0]["section"], a["citations"][0]["edition"]) == (RENUMBERED["new"], 2)
        finally:
            browser.close()
    assert not problems, problems
