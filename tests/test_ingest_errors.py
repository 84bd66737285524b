"""Issue 2: bad input gets one clear message naming the file, and the store is left exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.errors import EmptyInput, IngestError, UnreadableText, UnrecognisedStructure
from corpus.store import Store
from tests.storeutil import snapshot
from ingest.pipeline import Overrides, ingest_paths

DATA = Path(__file__).parent / "data"




@pytest.mark.parametrize(
    ("name", "content", "error", "reason"),
    [
        ("empty.txt", b"", EmptyInput, "the file is empty"),
        ("blank.txt", b" \n\n\t\n", EmptyInput, "only white space"),
        ("binary.txt", bytes(range(256)) * 40, UnreadableText, "not valid UTF-8 or CP932"),
        ("latin1.txt", "Réglement général, données".encode("latin-1") * 3 + b"\x81\x7f\xa0\xff", UnreadableText,
         "not valid UTF-8 or CP932"),
        ("noise.txt", "これは構造のない文章です。見出しも番号もありません。\n".encode(), UnrecognisedStructure,
         "structure was not recognised"),
    ],
)
def test_bad_text_input_is_rejected_and_store_unchanged(
    fresh_store: Store, tmp_path: Path, name: str, content: bytes, error: type[IngestError], reason: str
) -> None:
    before = snapshot(fresh_store)
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error) as exc:
        ingest_paths([path], fresh_store)
    assert str(path) in str(exc.value) and reason in str(exc.value)
    assert snapshot(fresh_store) == before


def test_one_bad_file_in_a_batch_stores_nothing(fresh_store: Store, tmp_path: Path) -> None:
    before = snapshot(fresh_store)
    bad = tmp_path / "empty.txt"
    bad.write_bytes(b"")
    with pytest.raises(EmptyInput):
        ingest_paths([DATA / "hojokin-qa-edition1.txt", bad], fresh_store)
    assert snapshot(fresh_store) == before


def test_qa_kind_forced_on_text_without_items(fresh_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "notqa.txt"
    path.write_text("お知らせ\n\n本日は晴天なり。\n", encoding="utf-8")
    with pytest.raises(UnrecognisedStructure, match="no Q&A items"):
        ingest_paths([path], fresh_store, Overrides(doc_id="hojokin-qa"))


def test_cp932_file_is_decoded(fresh_store: Store, tmp_path: Path) -> None:
    text = (DATA / "hojokin-qa-edition1.txt").read_text("utf-8")
    path = tmp_path / "qa-sjis.txt"
    path.write_bytes(text.encode("cp932", errors="replace"))
    [parsed] = ingest_paths([path], fresh_store, Overrides(edition=3))
    assert parsed.document.id == "hojokin-qa" and parsed.document.edition == 3
    assert len([c for c in parsed.clauses if c.kind == "item"]) == 23


def test_reingest_is_idempotent(fresh_store: Store) -> None:
    from ingest.pipeline import ingest_bundled

    before = snapshot(fresh_store)
    ingest_bundled(fresh_store)
    assert snapshot(fresh_store) == before


def test_no_temp_files_left_after_ingest(fresh_store: Store) -> None:
    leftovers = [p for p in fresh_store.root.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []
