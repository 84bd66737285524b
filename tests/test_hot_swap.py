"""Issues 5 and 7: a new edition becomes the default at once while the server keeps answering, and the write
endpoints are protected by a token (off by default)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
QUERY = "チラシ等を作成した場合の経費は対象か"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def server(small_built_data_dir: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A server on a copy of the hybrid index of the bundled documents (the statutes aside: swapping builds in does
    not depend on corpus size, and every rebuild here is ~4 s shorter without them)."""
    data_dir = tmp_path / "data"
    shutil.copytree(small_built_data_dir, data_dir)
    port = free_port()
    env = {**__import__("os").environ, "REGKB_ADMIN_TOKEN": "s3cret-token"}
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), "serve", "--port",
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("server did not start")
        yield base, data_dir
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_new_edition_swaps_in_while_searches_keep_answering(server) -> None:  # type: ignore[no-untyped-def]
    base, data_dir = server
    before = httpx.get(f"{base}/health").json()["build_id"]
    assert httpx.get(f"{base}/search", params={"q": QUERY}).json()["hits"][0]["citation"] == "Q&A（第2版）2-11"
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set() and len(statuses) < 5000:
                statuses.append(client.get("/search", params={"q": QUERY, "k": 3}).status_code)

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        # A 第3版 (here: the 第1版 text re-issued later) ingested from the command line; ingest rebuilds the index.
        r = subprocess.run([sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), "ingest",
                            str(DATA / "hojokin-qa-edition1.txt"), "--doc", "hojokin-qa", "--edition", "3",
                            "--date", "2026-04-01"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/health").json()["build_id"] == before and time.monotonic() < deadline:
            time.sleep(0.2)
        top = httpx.get(f"{base}/search", params={"q": QUERY}).json()["hits"][0]
        assert top["citation"] == "Q&A（第3版）2-9"  # the new edition is the default at once
        old = httpx.get(f"{base}/search", params={"q": QUERY, "as_of": "2026-03-20"}).json()["hits"][0]
        assert old["citation"] == "Q&A（第2版）2-11"  # --as-of still reaches the edition in force then
    finally:
        stop.set()
        thread.join()
    assert statuses and set(statuses) == {200}, f"{len(statuses)} requests, statuses {set(statuses)}"


def test_write_endpoints_need_the_token(server) -> None:  # type: ignore[no-untyped-def]
    base, _ = server
    files = {"file": ("qa.txt", (DATA / "hojokin-qa-edition1.txt").read_bytes(), "text/plain")}
    assert httpx.post(f"{base}/admin/rebuild").status_code == 401
    assert httpx.post(f"{base}/admin/rebuild", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = httpx.post(f"{base}/admin/documents", files=files, data={"edition": "4"},
                   headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "admin token" in r.json()["error"]["message"]
    bad = {"file": ("../../etc/evil.sh", b"#!/bin/sh\n", "text/plain")}
    r = httpx.post(f"{base}/admin/documents", files=bad, headers={"Authorization": "Bearer s3cret-token"})
    assert r.status_code == 400 and "unsupported file type" in r.json()["error"]["message"]
    r = httpx.post(f"{base}/admin/documents", files=files, data={"doc": "hojokin-qa", "edition": "4"},
                   headers={"Authorization": "Bearer s3cret-token"}, timeout=300)
    assert r.status_code == 201, r.text
    assert r.json()["edition"] == 4 and r.json()["doc"] == "hojokin-qa"


def test_write_endpoints_are_off_by_default(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        r = client.post("/admin/rebuild", headers={"Authorization": "Bearer anything"})
        assert r.status_code == 403 and "disabled" in r.json()["error"]["message"]
        assert client.get("/search", params={"q": "補助"}).status_code == 503  # and search is unaffected by writes
