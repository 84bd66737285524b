"""A real browser against the real server: Debian's Chromium driven by Playwright (never a downloaded browser).

`make test` installs Chromium first (tests/setup_browser.sh); without it this test skips and says why — except
where REGKB_REQUIRE_BROWSER is set (CI), where a missing browser is a failure, never a silent skip.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
QUESTION = "学校保健安全法に基づく医療費援助はこの補助金の対象ですか"
ANSWER = "学校保健安全法に基づく医療費援助についても、オンライン資格確認や本補助金の対象となります。"
ROOT = Path(__file__).resolve().parent.parent

REQUIRED = bool(os.environ.get("REGKB_REQUIRE_BROWSER"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(),
                       reason=f"Chromium not installed at {CHROMIUM}: run `bash tests/setup_browser.sh` (as root)"),
]


def test_browser_is_present_when_required() -> None:
    assert Path(CHROMIUM).exists(), f"Chromium is required here (REGKB_REQUIRE_BROWSER) but missing at {CHROMIUM}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"server not healthy after {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


@contextlib.contextmanager
def regkb_server(data_dir: Path, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`regkb serve` as a user starts it, on a free loopback port; yields its base URL once /health answers, and
    always stops it, by its own pid."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), "serve",
                                 "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{base}/health", proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture()
def server(built_data_dir: Path, tmp_path: Path) -> Iterator[str]:
    log = tmp_path / "server.log"
    with regkb_server(built_data_dir, log) as base:
        assert f"regkb: serving on {base}/" in log.read_text()
        yield base


def test_search_and_open_clause(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api") if not REQUIRED else __import__("playwright.sync_api").sync_api
    expect = sync_api.expect
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="ja-JP", viewport={"width": 1100, "height": 900},
                                          permissions=["clipboard-read", "clipboard-write"])
            page = context.new_page()
            # CSP violations and script errors show up here: the page must work under its own strict policy.
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            page.goto(server + "/")
            expect(page).to_have_title("規程検索｜regkb")
            box = page.locator("input[name=q]")
            box.fill(QUESTION)
            box.press("Enter")
            page.wait_for_url("**/?q=*")

            first = page.locator("li.hit").first
            expect(first.locator(".lead .badge.citation")).to_have_text("Q&A（第2版）2-9")
            expect(first.locator(".answer")).to_have_text(ANSWER)
            expect(first.locator(".badge.note")).to_have_text("第2版で追記")
            expect(first.locator("mark").first).to_be_visible()
            expect(page.locator("input[name=q]")).to_have_value(QUESTION)

            first.locator("button.copy").first.click()
            expect(first.locator("button.copy").first).to_have_text("コピーしました")
            copied = page.evaluate("navigator.clipboard.readText()")  # answer, citation with title and date, URL
            assert copied.startswith(f"{ANSWER}\n出典：Q&A（第2版）2-9（") and copied.endswith(
                f"{server}/documents/hojokin-qa/clauses/2-9?edition=2")
            page.screenshot(path=str(tmp_path / "search.png"), full_page=True)

            first.locator("h3.heading a").click()
            page.wait_for_url("**/documents/hojokin-qa/clauses/2-9?edition=2")
            expect(page.locator("article.clause .lead .badge.citation")).to_have_text("Q&A（第2版）2-9")
            expect(page.locator("h1")).to_have_text(
                "学校保健安全法に基づく医療費援助については、オンライン資格確認や本補助金の対象になるのか。")
            expect(page.locator(".clause-text")).to_contain_text("学校保健安全法に基づく医療費援助についても")
            expect(page.locator("nav.pager a.next")).to_contain_text("2-10")
            page.screenshot(path=str(tmp_path / "clause.png"), full_page=True)

            page.locator(".reflist.refs a", has_text="実施要綱 4(2)エ").click()  # follow a cross-reference
            page.wait_for_url("**/documents/jisshi-youkou/clauses/4(2)*")
            expect(page.locator("article.clause .lead .badge.citation")).to_have_text("実施要綱 4(2)エ")
            expect(page.locator(".reflist.cited-by")).to_contain_text("Q&A（第2版）2-9")

            page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing may overflow sideways
            page.goto(server + "/?q=" + QUESTION)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            page.screenshot(path=str(tmp_path / "search-narrow.png"), full_page=False)
        finally:
            browser.close()
    assert not problems, problems
    assert (tmp_path / "search.png").stat().st_size > 10_000
