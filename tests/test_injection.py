"""Issue 7: HTML/script injected into ingested document text is rendered as text everywhere."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from corpus.store import Store
from index.build import BuildConfig, build_index
from ingest.pipeline import Overrides, ingest_paths

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
QA = f"""悪意ある文書に関するQ&A
(第1版)

令和8年4月1日

1. テスト

1-1 {EVIL}は補助の対象になるのか。

→ {EVIL} 対象となります。

1-2 二つ目の質問は対象か。

→ 対象外です。
"""


def test_injected_text_is_escaped_in_every_page(tmp_path: Path) -> None:
    source = tmp_path / "evil-qa.txt"
    source.write_text(QA, "utf-8")
    ingest_paths([source], Store(tmp_path), Overrides(doc_id="evil-qa"))
    build_index(tmp_path, BuildConfig(dense=False))
    html = {"Accept": "text/html"}
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        pages = [
            client.get("/", params={"q": "補助の対象になるのか", "mode": "bm25"}, headers=html),
            client.get("/documents/evil-qa/clauses/1-1", headers=html),
            client.get("/documents/evil-qa", headers=html),
        ]
        for page in pages:
            assert page.status_code == 200, page.text[:300]
            assert "<script>alert" not in page.text and "<img src=x" not in page.text
            assert "&lt;script&gt;" in page.text
        r = client.get("/search", params={"q": "補助の対象になるのか", "mode": "bm25"})
        assert r.json()["hits"][0]["heading"].startswith("<script>")  # JSON carries the text as it is
        assert r.headers["content-type"].startswith("application/json")
