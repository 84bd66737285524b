"""Issue 14 over HTTP: /answers with tokens, the re-check on an admin upload, a server restart, bad input, the
「要確認の回答」 page, /health and the start page. A keyword-only index (no embedding model) keeps it fast."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from corpus.answers import CHANGE_STATUS
from corpus.store import Store
from index.build import BuildConfig, build_index
from ingest.pipeline import bundled_entries, ingest_paths

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "hojokin-qa-edition1-to-2.expected.json").read_text("utf-8"))
DOC = "hojokin-qa"
HELPDESK, ADMIN = "helpdesk-secret", "admin-secret"
AUTH = {"Authorization": f"Bearer {HELPDESK}"}
HTML = {"Accept": "text/html"}


def settings(data_dir: Path, **kw: Any) -> Settings:
    return Settings(data_dir=data_dir, helpdesk_token=HELPDESK, admin_token=ADMIN, **kw)


def chosen() -> list[dict[str, str]]:
    by: dict[str, list[dict[str, str]]] = {}
    for item in EXPECTED["items"]:
        if item["old"] is not None:
            by.setdefault(item["change"], []).append(item)
    picks = [by[c][0] for c in ("modified", "renumbered+modified", "renumbered", "removed") if by.get(c)]
    return picks + by["unchanged"][:2]


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    ingest_paths([DATA / "hojokin-qa-edition1.txt"], Store(tmp_path))
    build_index(tmp_path, BuildConfig(dense=False))
    return tmp_path


@pytest.fixture()
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(data_dir))) as c:
        yield c


def assert_error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["type"] and err["message"] and "Traceback" not in r.text
    return err


def save(client: TestClient, section: str, edition: int | None = 1, **kw: Any) -> dict[str, Any]:
    body = {"question": f"質問 {section}", "answer": f"回答（Q&A {section}）",
            "citations": [{"doc": DOC, "section": section, "edition": edition}], **kw}
    r = client.post("/answers", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return r.json()


def upload_edition2(client: TestClient) -> None:
    path = next(e.path for e in bundled_entries() if e.overrides.doc_id == DOC)
    r = client.post("/admin/documents", headers={"Authorization": f"Bearer {ADMIN}"},
                    files={"file": ("qa-dai2han.txt", path.read_bytes(), "text/plain")},
                    data={"doc": DOC, "edition": "2"})
    assert r.status_code == 201, r.text


def assert_follows(client: TestClient, ids: dict[int, dict[str, str]]) -> None:
    for answer_id, item in ids.items():
        r = client.get(f"/answers/{answer_id}")
        assert r.status_code == 200
        a = r.json()
        c = a["citations"][0]
        assert a["status"] == CHANGE_STATUS[item["change"]]
        assert (c["change"], c["current_section"], c["current_edition"]) == (item["change"], item["new"], 2)
        assert (c["section"], c["edition"]) == (item["old"], 1)
        if item["change"] != "unchanged":
            assert c["diff_row"]["old"] == item["old"] and c["diff_row"]["new"] == item["new"]
        if item["new"]:
            assert c["url"] == f"/documents/{DOC}/clauses/{item['new']}?edition=2"


def test_saved_answers_follow_an_uploaded_edition_across_a_restart(data_dir: Path, client: TestClient) -> None:
    ids = {save(client, item["old"])["id"]: item for item in chosen()}
    assert all(client.get(f"/answers/{i}").json()["status"] == "current" for i in ids)
    upload_edition2(client)
    assert_follows(client, ids)
    review = {i for i, item in ids.items() if item["change"] != "unchanged"}
    needs = {i for i, item in ids.items() if CHANGE_STATUS[item["change"]] == "needs-review"}
    listed = client.get("/answers", params={"status": "needs-review"}).json()["answers"]
    assert {a["id"] for a in listed} == needs
    assert client.get("/health").json()["answers_needing_review"] == len(review)
    # A new server over the same data directory says the same.
    with TestClient(create_app(settings(data_dir))) as again:
        assert_follows(again, ids)
        assert again.get("/health").json()["answers_needing_review"] == len(review)
        page = again.get("/", headers=HTML).text
        assert f"要確認の回答 {len(review)}件" in page


def test_writes_need_a_token(data_dir: Path, client: TestClient) -> None:
    body = {"question": "q", "answer": "a", "citations": [{"doc": DOC, "section": "1-1"}]}
    assert_error(client.post("/answers", json=body), 401)
    assert_error(client.post("/answers", json=body, headers={"Authorization": "Bearer wrong"}), 401)
    assert client.post("/answers", json=body, headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 201
    assert client.get("/answers").status_code == 200  # reads are open, like search
    with TestClient(create_app(Settings(data_dir=data_dir))) as off:
        assert_error(off.post("/answers", json=body, headers=AUTH), 403)
        assert off.get("/answers").json()["counts"]["current"] == 1


@pytest.mark.parametrize("body", [
    {"question": "q", "answer": "", "citations": [{"doc": DOC, "section": "1-1"}]},
    {"question": "q", "answer": "  ", "citations": [{"doc": DOC, "section": "1-1"}]},
    {"question": "q", "answer": "あ" * 301, "citations": [{"doc": DOC, "section": "1-1"}]},
    {"question": "q", "answer": "a", "citations": [{"doc": DOC, "section": "9-9"}]},
    {"question": "q", "answer": "a", "citations": [{"doc": "nope", "section": "1-1"}]},
    {"question": "q", "answer": "a", "citations": [{"doc": DOC, "section": "1-1", "edition": 5}]},
    {"question": "q", "answer": "a", "citations": []},
    {"question": "q", "answer": "a", "citations": [{"doc": DOC}]},
    {"question": "q", "answer": "a"},
    {"question": "q", "answer": "a", "citations": [{"doc": DOC, "section": "1-1"}], "extra": 1},
], ids=["empty", "blank", "oversized", "unknown-clause", "unknown-doc", "unknown-edition", "no-citations",
        "no-section", "no-citation-list", "unknown-field"])
def test_bad_input_is_422_and_stores_nothing(data_dir: Path, body: dict[str, Any]) -> None:
    with TestClient(create_app(settings(data_dir, max_answer_chars=300))) as client:
        save(client, "1-1")
        before = client.get("/answers").json()["counts"]
        assert_error(client.post("/answers", json=body, headers=AUTH), 422)
        assert client.get("/answers").json()["counts"] == before


def test_malformed_json_body(client: TestClient) -> None:
    r = client.post("/answers", content=b'{"question": "q", "answer": ', headers={**AUTH, "Content-Type": "application/json"})
    assert_error(r, 422)
    assert client.get("/answers").json()["answers"] == []


def test_edit_review_delete(client: TestClient) -> None:
    item = next(i for i in chosen() if i["change"] == "modified")
    a = save(client, item["old"])
    r = client.patch(f"/answers/{a['id']}", json={"note": "確認中"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["note"] == "確認中"
    assert_error(client.patch(f"/answers/{a['id']}", json={"answer": ""}, headers=AUTH), 422)
    upload_edition2(client)
    assert client.get(f"/answers/{a['id']}").json()["status"] == "needs-review"
    r = client.post(f"/answers/{a['id']}/review", json={"answer": "改訂後の回答"}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "current" and body["answer"] == "改訂後の回答" and body["reviewed_at"]
    assert (body["citations"][0]["section"], body["citations"][0]["edition"]) == (item["new"], 2)
    r = client.put(f"/answers/{a['id']}", headers=AUTH, json={
        "question": "新しい質問", "answer": "新しい回答", "citations": [{"doc": DOC, "section": "2-9"}]})
    assert r.status_code == 200 and r.json()["citations"][0]["citation"] == "Q&A（第2版）2-9"
    kinds = [e["kind"] for e in client.get(f"/answers/{a['id']}/history").json()["events"]]
    assert kinds[0] == "created" and {"edited", "rechecked", "reviewed"} <= set(kinds)
    assert client.delete(f"/answers/{a['id']}", headers=AUTH).status_code == 204
    assert_error(client.get(f"/answers/{a['id']}"), 404)
    assert_error(client.delete(f"/answers/{a['id']}", headers=AUTH), 404)


def test_search_list_and_filters(client: TestClient) -> None:
    save(client, "1-1", question="学校保健安全法の医療費援助")
    save(client, "1-2")
    r = client.get("/answers", params={"q": "学校保健"})
    assert [a["question"] for a in r.json()["answers"]] == ["学校保健安全法の医療費援助"]
    assert_error(client.get("/answers", params={"status": "bogus"}), 422)


def test_export_and_import(client: TestClient) -> None:
    ids = [save(client, item["old"])["id"] for item in chosen()]
    upload_edition2(client)
    r = client.get("/answers/export", params={"format": "csv"})
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    assert "attachment" in r.headers["content-disposition"]
    csv_bytes = r.content
    before = client.get("/answers").json()["counts"]
    r = client.post("/answers/import", files={"file": ("answers.csv", csv_bytes, "text/csv")}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == len(ids)
    after = client.get("/answers").json()["counts"]
    assert after == {k: 2 * v for k, v in before.items()}  # same standing for each imported copy
    js = client.get("/answers/export", params={"format": "json"}).json()
    assert js["format"] == "regkb-answers" and len(js["answers"]) == 2 * len(ids)
    # Wrong header, malformed JSON, no token: 4xx and nothing stored.
    bad = [("a.csv", "frage,antwort,citations\r\nq,a,hojokin-qa#1-1\r\n".encode()), ("a.json", b'{"answers": [')]
    for name, data in bad:
        assert_error(client.post("/answers/import", files={"file": (name, data)}, headers=AUTH), 422)
    assert_error(client.post("/answers/import", files={"file": ("a.csv", csv_bytes)}), 401)
    assert client.get("/answers").json()["counts"] == after


def test_review_page(client: TestClient) -> None:
    ids = {save(client, item["old"])["id"]: item for item in chosen()}
    upload_edition2(client)
    r = client.get("/answers/review", headers=HTML)
    assert r.status_code == 200
    page = r.text
    assert "<h1>要確認の回答</h1>" in page
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and " style=" not in page  # no inline script or style
    listed = set(map(int, re.findall(r'id="answer-(\d+)"', page)))
    assert listed == {i for i, item in ids.items() if item["change"] != "unchanged"}
    assert page.count('<table class="shinkyu">') == len(listed)  # each with its 新旧対照表 row
    assert 'src="/static/answers.js"' in page and client.get("/static/answers.js").status_code == 200
    for i, item in ids.items():
        if item["change"] != "unchanged":
            assert f"Q&amp;A（第2版）{item['new']}" in page


def test_search_page_has_the_save_button(client: TestClient) -> None:
    page = client.get("/", params={"q": "学校保健安全法"}, headers=HTML).text
    assert "この回答を保存" in page and 'data-save-answer' in page and 'data-doc="hojokin-qa"' in page


def test_concurrent_posts(client: TestClient) -> None:
    errors: list[str] = []

    def work(n: int) -> None:
        for i in range(5):
            r = client.post("/answers", headers=AUTH, json={
                "question": f"t{n}-{i}", "answer": "a", "citations": [{"doc": DOC, "section": "1-2"}]})
            if r.status_code != 201:
                errors.append(r.text)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(client.get("/answers").json()["answers"]) == 20


def test_new_database_opened_by_many_threads_at_once(tmp_path: Path) -> None:
    """Six connections creating the same new database: each waits for the WAL switch instead of failing "locked" at
    once (SQLite calls no busy handler for that lock; 3–10 of 150 such races failed before)."""
    from corpus.answers import AnswerStore

    errors: list[str] = []
    for trial in range(100):
        store = AnswerStore(tmp_path / str(trial))

        def work(store: AnswerStore = store) -> None:
            try:
                with store._connect() as conn:
                    conn.execute("SELECT 1")
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors[:3]


def test_no_input_gives_a_server_error(data_dir: Path) -> None:
    """schemathesis over the /answers operations, with a valid token so the writes are exercised too."""
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings

    from api.app import load_index

    app_settings = settings(data_dir)
    app = create_app(app_settings)
    load_index(app, app_settings, None)
    with TestClient(app) as c:
        save(c, "1-1")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/answers")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @hsettings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.headers = {**(case.headers or {}), **AUTH}
            response = case.call()
            assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}"

        check()
