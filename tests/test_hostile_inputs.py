"""Issue 7: hostile and broken inputs. Each one gets a clear error or a documented best-effort result, and nothing
already stored changes. Every fixture is generated here, in ``tmp_path``.

What each input gets (errors are ``corpus.errors.IngestError`` subclasses whose message holds the path):

* empty file: ``EmptyInput`` (text) or ``BadPdf`` "empty file" (.pdf);
* corrupt, truncated, encrypted, scanned (no text layer) PDF: ``BadPdf`` saying which;
* PDF bomb (more than ``pipeline.MAX_PDF_PAGES`` pages): ``BadPdf`` "too many pages", from the page count, before
  any page is read;
* a text file over ``textio.MAX_TEXT_BYTES`` (20 MiB): ``UnreadableText``, from its size, before it is read;
* wrong encoding (Latin-1, random bytes): ``UnreadableText``;
* mixed encodings (a CP932 paragraph in a UTF-8 file): ``UnreadableText`` "mixed encodings" naming the first bad
  line — an error, not a best effort with replacement characters, so the corpus of record never holds damaged text;
* control characters inside a valid Q&A: best effort — stripped, the document parses as without them;
  the private-use marks the pipeline uses for underlines become U+FFFD, so a text file cannot forge changed spans;
* no recognisable structure: ``UnrecognisedStructure``;
* a repeated Q&A item number, or numbering that goes backwards: best effort — item numbers are accepted only in
  sequence, so the out-of-sequence line stays in the text of the item before it, and a warning names it;
* an edition older than the stored one: stored as its own edition; the latest stays the default;
* a path with '..' in it: not special (a command-line user may ingest any readable regular file they name);
* not a regular file (a directory, /dev/zero, a FIFO): ``IngestError`` "is not a regular file (…)", at once,
  without reading or blocking;
* a symbolic link (even to a good file): ``IngestError`` "is a symbolic link" — links are not followed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.errors import BadPdf, EmptyInput, IngestError, UnreadableText, UnrecognisedStructure
from corpus.store import Store
from tests.storeutil import snapshot
from ingest import pipeline, textio
from ingest.pipeline import Overrides, ingest_bundled, ingest_paths, parse_file
from tests.pdfgen import (
    render_text_pdf,
    write_encrypted_pdf,
    write_many_pages_pdf,
    write_scanned_pdf,
    write_truncated_pdf,
)

DATA = Path(__file__).parent / "data"
QA_EDITION1 = DATA / "hojokin-qa-edition1.txt"




@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """One store with the bundled corpus for the whole module: every test checks it is left as it was."""
    s = Store(tmp_path_factory.mktemp("hostile-store"))
    ingest_bundled(s)
    return s


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the test run) when the body blocks, e.g. on a FIFO or /dev/zero."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def refused(store: Store, path: Path, error: type[IngestError], reason: str, **kw: object) -> IngestError:
    """Ingest ``path``; assert it raises ``error`` naming the path with ``reason``, and the store is unchanged."""
    before = snapshot(store)
    with deadline(20), pytest.raises(error) as exc:
        ingest_paths([path], store, **kw)  # type: ignore[arg-type]
    assert isinstance(exc.value, IngestError)
    assert str(path) in str(exc.value), str(exc.value)
    assert reason in str(exc.value), str(exc.value)
    assert snapshot(store) == before
    return exc.value


# ---------------------------------------------------------------- empty and broken files
@pytest.mark.parametrize(("name", "error", "reason"), [
    ("empty.txt", EmptyInput, "the file is empty"),
    ("empty", EmptyInput, "the file is empty"),
    ("empty.pdf", BadPdf, "empty file (0 bytes)"),
])
def test_empty_file(store: Store, tmp_path: Path, name: str, error: type[IngestError], reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    refused(store, path, error, reason)


def test_truncated_pdf(store: Store, tmp_path: Path) -> None:
    refused(store, write_truncated_pdf(tmp_path / "cut.pdf"), BadPdf, "truncated")


def test_corrupt_pdf(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20 + b"\n%%EOF\n")
    refused(store, path, BadPdf, "corrupt")


def test_pdf_header_without_pdf_suffix_is_read_as_pdf(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "download.bin"
    path.write_bytes(b"%PDF-1.4\nnot really a pdf")
    refused(store, path, BadPdf, "corrupt")


def test_encrypted_pdf(store: Store, tmp_path: Path) -> None:
    err = refused(store, write_encrypted_pdf(tmp_path / "locked.pdf"), BadPdf, "encrypted")
    assert err.hint and "password" in err.hint


def test_scanned_pdf(store: Store, tmp_path: Path) -> None:
    err = refused(store, write_scanned_pdf(tmp_path / "scan.pdf"), BadPdf, "no text layer")
    assert err.hint and "OCR" in err.hint


def test_pdf_bomb_is_refused_from_its_page_count(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "MAX_PDF_PAGES", 10)
    err = refused(store, write_many_pages_pdf(tmp_path / "bomb.pdf", 30), BadPdf, "too many pages")
    assert "30" in err.reason and "10" in err.reason
    # at the limit it is read
    parsed = parse_file(write_many_pages_pdf(tmp_path / "ten.pdf", 10), Overrides(doc_id="ten", kind="notice"))
    assert max(p for c in parsed.clauses for p in c.pages) == 10


def test_pdf_bomb_at_the_default_limit_is_refused_quickly(store: Store, tmp_path: Path) -> None:
    assert pipeline.MAX_PDF_PAGES == 2000
    bomb = write_many_pages_pdf(tmp_path / "bomb.pdf", pipeline.MAX_PDF_PAGES + 1)
    start = time.perf_counter()
    refused(store, bomb, BadPdf, f"too many pages ({pipeline.MAX_PDF_PAGES + 1} > ")
    assert time.perf_counter() - start < 5


def test_oversized_pdf_is_refused_from_its_size(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "MAX_PDF_BYTES", 1000)
    pdf = render_text_pdf(tmp_path / "big.pdf", "第1条 本文。\n" * 50)
    refused(store, pdf, BadPdf, "limit for one document")


# ---------------------------------------------------------------- huge text
def test_100_mb_text_file_is_refused_before_it_is_read(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.txt"
    block = ("1-1 繰り返しの問い。\n→ 繰り返しの答え。\n" * 20000).encode()  # ~1 MiB of valid Q&A-looking text
    with path.open("wb") as fh:
        while fh.tell() < 100 * 1024 * 1024:
            fh.write(block)
    assert path.stat().st_size >= 100 * 1024 * 1024

    tracemalloc.start()
    start = time.perf_counter()
    try:
        err = refused(store, path, UnreadableText, "over the 20 MiB limit")
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "100 MiB" in err.reason and elapsed < 2
    assert peak < 20 * 1024 * 1024, f"{peak} bytes allocated: the file was read"  # it is 100 MiB
    with pytest.raises(UnreadableText, match="over the 20 MiB limit"):
        textio.read_text_file(path)


def test_text_size_limit_is_exact(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = QA_EDITION1.read_bytes()
    monkeypatch.setattr(textio, "MAX_TEXT_BYTES", len(text))
    path = tmp_path / "qa.txt"
    path.write_bytes(text)
    assert len([c for c in parse_file(path).clauses if c.kind == "item"]) == 23  # exactly at the limit: read
    path.write_bytes(text + b"\n")
    refused(store, path, UnreadableText, "limit for one document")


# ---------------------------------------------------------------- encodings and characters
def test_latin1_text(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(("Règlement général sur la protection des données.\n"
                      "Article 1 — Objet et objectifs; données à caractère personnel.\n" * 5).encode("latin-1",
                                                                                                  "replace"))
    refused(store, path, UnreadableText, "not valid UTF-8 or CP932")


def test_random_bytes(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "random.txt"
    path.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(50000)))
    refused(store, path, UnreadableText, "not valid UTF-8 or CP932")


def test_mixed_encodings_are_an_error_naming_the_line(store: Store, tmp_path: Path) -> None:
    lines = QA_EDITION1.read_text("utf-8").split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("1-2"))
    data = "\n".join(lines[:at]).encode() + b"\n" + "\n".join(lines[at:at + 3]).encode("cp932") + b"\n" + \
        "\n".join(lines[at + 3:]).encode()
    path = tmp_path / "mixed.txt"
    path.write_bytes(data)
    err = refused(store, path, UnreadableText, "mixed encodings")
    assert f"line {at + 1}" in err.reason


def test_whole_file_in_cp932_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "sjis.txt"
    path.write_bytes(QA_EDITION1.read_text("utf-8").encode("cp932"))
    assert len([c for c in parse_file(path).clauses if c.kind == "item"]) == 23


def test_control_characters_are_stripped(tmp_path: Path) -> None:
    clean = parse_file(QA_EDITION1)
    lines = QA_EDITION1.read_text("utf-8").split("\n")
    junk = ["\x00", "\x07", "\x1b", "\x7f", "\x0b", "\x85", "\u202e", "\ufeff"]
    for k, i in enumerate(range(3, len(lines), max(1, len(lines) // len(junk)))):
        line = lines[i]
        lines[i] = line[: len(line) // 2] + junk[k % len(junk)] + line[len(line) // 2:]
    path = tmp_path / "ctrl.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    dirty = parse_file(path)
    assert [(c.section, c.heading, c.text) for c in dirty.clauses] == [(c.section, c.heading, c.text) for c in clean.clauses]
    bad = set(junk) | {chr(c) for c in range(32) if chr(c) not in "\n"}
    assert not any(ch in bad for ch in dirty.text)


def test_text_cannot_forge_changed_spans(tmp_path: Path) -> None:
    source = QA_EDITION1.read_text("utf-8").replace("1-2 ", "1-2 \ue000", 1).replace("。", "。\ue001", 1)
    path = tmp_path / "marks.txt"
    path.write_text(source, encoding="utf-8")
    parsed = parse_file(path)
    assert all(c.changed_spans == () for c in parsed.clauses)
    assert "\ue000" not in parsed.text and "\ue001" not in parsed.text and "\ufffd" in parsed.text


# ---------------------------------------------------------------- structure
def test_no_recognisable_structure(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "prose.txt"
    path.write_text("これは構造のない文章です。見出しも番号もありません。\n" * 20, encoding="utf-8")
    refused(store, path, UnrecognisedStructure, "structure was not recognised")
    pdf = render_text_pdf(tmp_path / "prose.pdf", "これは構造のない文章です。見出しも番号もありません。\n" * 200)
    refused(store, pdf, UnrecognisedStructure, "structure was not recognised")


QA_HEAD = ["令和9年度 テスト事業補助金に関するQ&A", "(第1版)", "令和9年4月1日", "1. 申請"]


def _qa(tmp_path: Path, body: list[str]) -> Path:
    path = tmp_path / "qa.txt"
    path.write_text("\n".join(QA_HEAD + body), encoding="utf-8")
    return path


def test_duplicate_item_number_stays_in_the_item_before(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _qa(tmp_path, [
        "1-1 一つ目の問い。", "→ 一つ目の答え。",
        "1-2 二つ目の問い。", "→ 二つ目の答え。",
        "1-2 重複した番号の問い。", "→ 重複した番号の答え。",
        "1-3 三つ目の問い。", "→ 三つ目の答え。",
    ])
    with caplog.at_level(logging.WARNING, logger="ingest.pipeline"):
        parsed = parse_file(path)
    items = {c.section: c for c in parsed.clauses if c.kind == "item"}
    assert list(items) == ["1-1", "1-2", "1-3"]  # section ids stay unique
    assert items["1-2"].heading == "二つ目の問い。"
    assert "1-2 重複した番号の問い。" in items["1-2"].text and "重複した番号の答え。" in items["1-2"].answer
    assert items["1-3"].heading == "三つ目の問い。"
    assert any("1-2" in r.getMessage() and "out of sequence" in r.getMessage() for r in caplog.records)


def test_numbering_going_backwards(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _qa(tmp_path, [
        "1-1 一つ目の問い。", "→ 一つ目の答え。",
        "1-3 三つ目の問い。", "→ 三つ目の答え。",
        "1-2 後から来た二つ目の問い。", "→ 後から来た答え。",
        "1-4 四つ目の問い。", "→ 四つ目の答え。",
        "2. 手続", "2-1 手続の問い。", "→ 手続の答え。",
        "1. 申請（再掲）", "1-5 戻った群の問い。", "→ 戻った群の答え。",
    ])
    with caplog.at_level(logging.WARNING, logger="ingest.pipeline"):
        parsed = parse_file(path)
    assert [c.section for c in parsed.clauses] == ["前文", "1", "1-1", "1-3", "1-4", "2", "2-1"]
    by = {c.section: c for c in parsed.clauses}
    assert "後から来た二つ目の問い。" in by["1-3"].text  # a number going back stays in the item before it
    assert "1. 申請（再掲）" in by["2-1"].text and "戻った群の答え。" in by["2-1"].text  # so does a group
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "1-2" in warned and "1-5" in warned


def test_older_edition_is_stored_beside_and_latest_stays_default(fresh_store: Store) -> None:
    before = snapshot(fresh_store)
    old_corpus = fresh_store.load()
    assert old_corpus.get("hojokin-qa").document.edition == 2
    [parsed] = ingest_paths([QA_EDITION1], fresh_store)
    assert parsed.document.id == "hojokin-qa" and parsed.document.edition == 1
    corpus = fresh_store.load()
    assert [p.document.edition for p in corpus.editions("hojokin-qa")] == [1, 2]
    assert corpus.get("hojokin-qa").document.edition == 2  # the latest is still the default
    after = snapshot(fresh_store)
    # every object stored before is still there, byte for byte; the only other change is the manifest
    assert {k: v for k, v in after.items() if k in before and k != "manifest.json"} == \
        {k: v for k, v in before.items() if k != "manifest.json"}
    for doc in old_corpus:
        assert corpus.get(doc.document.id, doc.document.edition) == doc


# ---------------------------------------------------------------- paths and file types
def test_dot_dot_in_a_path_is_not_special(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    refused(store, Path("../../etc/passwd"), UnrecognisedStructure, "structure was not recognised")


def test_missing_file(store: Store, tmp_path: Path) -> None:
    refused(store, tmp_path / "nothing-here.txt", IngestError, "no such file")


def test_directory(store: Store, tmp_path: Path) -> None:
    (tmp_path / "dir.txt").mkdir()
    refused(store, tmp_path / "dir.txt", IngestError, "is not a regular file (a directory)")


def test_dev_zero_is_refused_at_once(store: Store) -> None:
    start = time.perf_counter()
    refused(store, Path("/dev/zero"), IngestError, "is not a regular file (a character device)")
    assert time.perf_counter() - start < 1


def test_fifo_is_refused_without_blocking(store: Store, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    refused(store, fifo, IngestError, "is not a regular file (a FIFO")


@pytest.mark.parametrize("target", ["good", "dev-zero", "dangling"])
def test_symlink_is_refused(store: Store, tmp_path: Path, target: str) -> None:
    link = tmp_path / "link.txt"
    link.symlink_to({"good": QA_EDITION1, "dev-zero": Path("/dev/zero"), "dangling": tmp_path / "gone.txt"}[target])
    err = refused(store, link, IngestError, "is a symbolic link")
    assert err.hint and ("points to" in err.hint)


def test_file_swapped_for_a_symlink_after_the_check_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """O_NOFOLLOW on the open itself: a path that becomes a link between the check and the open is refused."""
    path = tmp_path / "qa.txt"
    path.symlink_to(QA_EDITION1)
    monkeypatch.setattr(textio, "check_source", lambda p: os.stat(p))
    with pytest.raises(IngestError, match="is a symbolic link"):
        parse_file(path)


def test_unreadable_file(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.txt"
    path.write_bytes(QA_EDITION1.read_bytes())
    path.chmod(0)
    if os.geteuid() == 0:  # root reads any file: make the open fail as it would for anyone else
        real_open = os.open

        def denied(p: object, *args: object, **kw: object) -> int:
            if Path(str(p)) == path:
                raise PermissionError(13, "Permission denied", str(p))
            return real_open(p, *args, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(textio.os, "open", denied)
    refused(store, path, IngestError, "cannot read the file (permission denied)")


def test_one_hostile_file_in_a_batch_stores_nothing(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "link.txt"
    bad.symlink_to(QA_EDITION1)
    before = snapshot(store)
    with pytest.raises(IngestError, match="symbolic link"):
        ingest_paths([QA_EDITION1, bad], store)
    assert snapshot(store) == before
