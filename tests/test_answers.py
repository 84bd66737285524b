"""Issue 14: saved helpdesk answers — storage, the re-check on a new edition, import/export, CLI, concurrency.

Which Q&A item is modified, renumbered or unchanged between 第1版 and 第2版 comes from
tests/data/hojokin-qa-edition1-to-2.expected.json; for the classes that pair lacks (renumbered+modified, removed),
a 第3版 is derived from 第2版 in the test and the expected outcome read from ``diff_editions`` on it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from corpus import answers_io
from corpus import answers_service as service
from corpus.answers import CHANGE_STATUS, SCHEMA_VERSION, AnswerDraft, AnswerStore, CitationRef, Limits
from corpus.answers_recheck import recheck_answers, text_hash
from corpus.diff import diff_editions
from corpus.errors import AnswerImportError, AnswerNotFound, AnswerStoreError, IngestError, InvalidAnswer
from corpus.model import ParsedDocument
from corpus.store import Store
from ingest.pipeline import bundled_entries, ingest_paths, parse_file

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
EXPECTED = json.loads((DATA / "hojokin-qa-edition1-to-2.expected.json").read_text("utf-8"))
DOC = "hojokin-qa"


def bundled(doc_id: str) -> Path:
    return next(e.path for e in bundled_entries() if e.overrides.doc_id == doc_id)


def bundled_parsed(doc_id: str) -> ParsedDocument:
    entry = next(e for e in bundled_entries() if e.overrides.doc_id == doc_id)
    return parse_file(entry.path, entry.overrides)


def rows_by_class() -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for item in EXPECTED["items"]:
        if item["old"] is not None:
            out.setdefault(item["change"], []).append(item)
    return out


def chosen() -> list[dict[str, str]]:
    """One 第1版 item of each change class present in the expected diff, and two unchanged ones."""
    by = rows_by_class()
    picks = [by[c][0] for c in ("modified", "renumbered+modified", "renumbered", "removed") if by.get(c)]
    picks += by["unchanged"][:2]
    return picks


def regkb(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture()
def edition1(tmp_path: Path) -> Path:
    """A data directory holding the 第1版 fixture of the Q&A and the 実施要綱 (no index)."""
    store = Store(tmp_path)
    ingest_paths([DATA / "hojokin-qa-edition1.txt"], store)
    store.put([bundled_parsed("jisshi-youkou")])
    assert store.load().get(DOC).document.edition == 1
    return tmp_path


def save_chosen(data_dir: Path) -> dict[int, dict[str, str]]:
    ids = {}
    for item in chosen():
        a = service.save(data_dir, AnswerDraft(f"質問 {item['old']}", f"回答（Q&A {item['old']}）",
                                               (CitationRef(DOC, item["old"], 1),)))
        assert a.status == "current" and a.citations[0].current_edition == 1
        ids[a.id] = item
    return ids


def ingest_edition2(data_dir: Path) -> None:
    """What `regkb ingest` and the admin upload do: store atomically, then re-check."""
    ingest_paths([bundled(DOC)], Store(data_dir))
    recheck_answers(data_dir)


def assert_follows(data_dir: Path, ids: dict[int, dict[str, str]]) -> None:
    store = AnswerStore(data_dir)
    for answer_id, item in ids.items():
        a = store.get(answer_id)
        c = a.citations[0]
        assert c.change == item["change"], (item, c)
        assert a.status == CHANGE_STATUS[item["change"]]
        assert (c.section, c.edition) == (item["old"], 1)  # what was saved stays
        assert c.current_section == item["new"]
        assert c.current_edition == 2
        if item["new"] is not None:
            assert c.current_citation == f"Q&A（第2版）{item['new']}"
        if item["change"] == "unchanged":
            assert c.diff_row is None
        else:
            assert c.diff_row is not None and c.diff_row["old"] == item["old"] and c.diff_row["new"] == item["new"]
        if "modified" in item["change"]:
            assert c.diff_row["old_text"] != c.diff_row["new_text"]
            assert any(r["op"] != "equal" for r in c.diff_row["inline"])


# -- the re-check ------------------------------------------------------------------------------------------------------


def test_new_edition_rechecks_every_saved_answer(edition1: Path) -> None:
    ids = save_chosen(edition1)
    assert {i["change"] for i in ids.values()} >= {"modified", "renumbered", "unchanged"}
    ingest_edition2(edition1)
    assert_follows(edition1, ids)
    counts = AnswerStore(edition1).counts()
    assert sum(counts.values()) == len(ids)
    assert AnswerStore(edition1).needing_review() == sum(1 for i in ids.values() if i["change"] != "unchanged")


def test_recheck_is_idempotent(edition1: Path) -> None:
    save_chosen(edition1)
    ingest_edition2(edition1)
    before = [a.to_json() for a in AnswerStore(edition1).list()]
    report = recheck_answers(edition1)
    assert report.changed == () and report.checked == len(before)
    assert [a.to_json() for a in AnswerStore(edition1).list()] == before


def test_answer_status_is_the_worst_citation(edition1: Path) -> None:
    by = rows_by_class()
    unchanged, modified = by["unchanged"][0], by["modified"][0]
    yk = Store(edition1).load().get("jisshi-youkou").clauses[-1]
    a = service.save(edition1, AnswerDraft("q", "a", (CitationRef(DOC, unchanged["old"], 1),
                                                      CitationRef(DOC, modified["old"], 1),
                                                      CitationRef("jisshi-youkou", yk.section))))
    ingest_edition2(edition1)
    a = AnswerStore(edition1).get(a.id)
    assert [c.change for c in a.citations] == ["unchanged", "modified", "unchanged"]
    assert a.status == "needs-review"
    assert a.citations[2].current_edition == yk.edition  # another document: untouched


def edition3(ed2: ParsedDocument) -> ParsedDocument:
    """第3版 derived from 第2版: the first item of chapter 3 with a successor is dropped, the items after it move
    up one number, and one of them gets an extra sentence."""
    items = [c for c in ed2.clauses if c.kind == "item" and c.section.startswith("3-")]
    dropped, edited = items[0], items[2]
    renumber = {c.section: items[i - 1].section for i, c in enumerate(items) if i > 0}
    clauses = []
    for c in ed2.clauses:
        if c is dropped:
            continue
        c = replace(c, edition=3, citation=c.citation.replace("第2版", "第3版"))
        if c.section in renumber:
            c = replace(c, section=renumber[c.section], citation=c.citation.replace(c.section, renumber[c.section]))
        if c.heading == edited.heading:
            extra = "なお、詳細は別途通知します。"
            c = replace(c, text=c.text + extra, answer=(c.answer or "") + extra)
        clauses.append(c)
    doc = replace(ed2.document, edition=3, edition_label="第3版", source_sha256="0" * 64)
    return ParsedDocument(doc, tuple(clauses), ed2.text)


def test_removed_and_renumbered_modified_in_a_later_edition(edition1: Path) -> None:
    ingest_edition2(edition1)
    ed2 = Store(edition1).load().get(DOC)
    ed3 = edition3(ed2)
    rows = {r.old: r for r in diff_editions(ed2, ed3).items if r.old is not None}
    wanted = [s for s in (next((o for o, r in rows.items() if r.change == k), None)
                          for k in ("removed", "renumbered+modified", "renumbered", "unchanged")) if s]
    assert {rows[s].change for s in wanted} == {"removed", "renumbered+modified", "renumbered", "unchanged"}
    ids = {service.save(edition1, AnswerDraft("q", "a", (CitationRef(DOC, s),))).id: s for s in wanted}
    Store(edition1).put([ed3])
    recheck_answers(edition1)
    store = AnswerStore(edition1)
    for answer_id, old in ids.items():
        a, row = store.get(answer_id), rows[old]
        c = a.citations[0]
        assert (c.change, c.current_section, c.current_edition) == (row.change, row.new, 3)
        assert a.status == CHANGE_STATUS[row.change]
    removed = next(store.get(i) for i, s in ids.items() if rows[s].change == "removed")
    assert removed.status == "removed" and removed.citations[0].current_citation is None
    assert removed.citations[0].diff_row["old_text"]
    assert store.needing_review() == 3  # removed, renumbered+modified, renumbered
    # Reviewing the removed one without new citations is refused; with one it comes back current.
    with pytest.raises(InvalidAnswer):
        service.review(edition1, removed.id)
    ok = service.review(edition1, removed.id, citations=[CitationRef(DOC, "3-1")])
    assert ok.status == "current"


def test_hash_mismatch_means_review(edition1: Path) -> None:
    """The stored text of the saved edition changing under the same number (a re-ingest) is caught by the hash."""
    by = rows_by_class()
    item = by["unchanged"][0]
    a = service.save(edition1, AnswerDraft("q", "a", (CitationRef(DOC, item["old"], 1),)))
    ed1 = Store(edition1).load().get(DOC, 1)
    changed = tuple(replace(c, text=c.text + "（改）") if c.section == item["old"] else c for c in ed1.clauses)
    Store(edition1).put([ParsedDocument(replace(ed1.document, source_sha256="1" * 64), changed, ed1.text)])
    recheck_answers(edition1)
    c = AnswerStore(edition1).get(a.id).citations[0]
    assert c.change == "text-changed" and AnswerStore(edition1).get(a.id).status == "needs-review"
    assert c.text_hash != text_hash(Store(edition1).load().clause(DOC, item["old"], 1).text)


def test_review_moves_citations_to_the_new_edition(edition1: Path) -> None:
    ids = save_chosen(edition1)
    ingest_edition2(edition1)
    for answer_id, item in ids.items():
        new_text = f"改訂後の回答（Q&A {item['new']}）" if "modified" in item["change"] else None
        a = service.review(edition1, answer_id, answer=new_text)
        assert a.status == "current" and a.reviewed_at
        c = a.citations[0]
        assert (c.section, c.edition, c.change) == (item["new"], 2, "unchanged")
        if new_text:
            assert a.answer == new_text
    assert AnswerStore(edition1).needing_review() == 0
    assert recheck_answers(edition1).changed == ()
    kinds = [e["kind"] for e in AnswerStore(edition1).events(next(iter(ids)))]
    assert kinds[0] == "created" and "rechecked" in kinds and kinds[-1] == "reviewed"


# -- bad input ---------------------------------------------------------------------------------------------------------


def table_rows(data_dir: Path) -> tuple[int, int]:
    with sqlite3.connect(data_dir / "answers.sqlite3") as conn:
        return (conn.execute("SELECT count(*) FROM answers").fetchone()[0],
                conn.execute("SELECT count(*) FROM citations").fetchone()[0])


@pytest.mark.parametrize("draft", [
    AnswerDraft("q", "", (CitationRef(DOC, "1-1"),)),
    AnswerDraft("q", "   \n", (CitationRef(DOC, "1-1"),)),
    AnswerDraft("", "a", (CitationRef(DOC, "1-1"),)),
    AnswerDraft("q", "あ" * 10001, (CitationRef(DOC, "1-1"),)),
    AnswerDraft("q", "a", ()),
    AnswerDraft("q", "a", (CitationRef(DOC, "9-9"),)),
    AnswerDraft("q", "a", (CitationRef("no-such-doc", "1-1"),)),
    AnswerDraft("q", "a", (CitationRef(DOC, "1-1", 7),)),
    AnswerDraft("q", "a", (CitationRef(DOC, "1-1"), CitationRef(DOC, "9-9"))),
], ids=["empty", "blank", "no-question", "oversized", "no-citation", "unknown-clause", "unknown-doc",
        "unknown-edition", "one-bad-citation"])
def test_bad_input_stores_nothing(edition1: Path, draft: AnswerDraft) -> None:
    service.save(edition1, AnswerDraft("q", "a", (CitationRef(DOC, "1-1"),)))
    before = table_rows(edition1)
    with pytest.raises(InvalidAnswer) as e:
        service.save(edition1, draft, Limits())
    assert e.value.message and e.value.status == 422
    assert table_rows(edition1) == before


def test_full_width_section_is_found(edition1: Path) -> None:
    a = service.save(edition1, AnswerDraft("q", "a", (CitationRef(DOC, "２－９"),)))
    assert a.citations[0].section == "2-9" and a.citations[0].citation == "Q&A（第1版）2-9"


def test_unknown_answer_is_404(edition1: Path) -> None:
    with pytest.raises(AnswerNotFound):
        AnswerStore(edition1).get(123)
    with pytest.raises(AnswerNotFound):
        service.review(edition1, 123)


# -- import / export -------------------------------------------------------------------------------------------------


def test_csv_round_trip_with_bom(edition1: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    save_chosen(edition1)
    service.save(edition1, AnswerDraft("カンマ, 改行\nと\"引用符\"", "回答, 二行目\n三行目", (CitationRef(DOC, "1-1"),
                                                                                 CitationRef(DOC, "2-1"))))
    ingest_edition2(edition1)
    data = answers_io.to_csv(AnswerStore(edition1).list())
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    other = tmp_path_factory.mktemp("other")
    ingest_paths([DATA / "hojokin-qa-edition1.txt"], Store(other))
    ingest_paths([bundled(DOC)], Store(other))
    drafts, hashes = answers_io.from_csv(data)
    service.import_drafts(other, drafts, hashes=hashes)

    def key(a):  # type: ignore[no-untyped-def]
        return (a.question, a.answer, a.status, [(c.section, c.edition, c.text_hash, c.current_section, c.change)
                                                 for c in a.citations])

    assert sorted(map(key, AnswerStore(other).list())) == sorted(map(key, AnswerStore(edition1).list()))
    # And JSON the same way.
    again = tmp_path_factory.mktemp("again")
    ingest_paths([DATA / "hojokin-qa-edition1.txt"], Store(again))
    ingest_paths([bundled(DOC)], Store(again))
    drafts, hashes = answers_io.from_json(answers_io.to_json(AnswerStore(edition1).list()))
    service.import_drafts(again, drafts, hashes=hashes)
    assert sorted(map(key, AnswerStore(again).list())) == sorted(map(key, AnswerStore(edition1).list()))


def test_csv_from_excel_in_cp932(edition1: Path) -> None:
    text = "question,answer,citations\r\n補助対象か,対象です,hojokin-qa@1#2-9\r\n"
    drafts, _ = answers_io.from_csv(text.encode("cp932"))
    ids = service.import_drafts(edition1, drafts)
    assert AnswerStore(edition1).get(ids[0]).question == "補助対象か"


@pytest.mark.parametrize("data,fmt", [
    (b"\xef\xbb\xbfquestion,reply,citations\r\nq,a,hojokin-qa#1-1\r\n", "csv"),
    (b"question,answer\r\nq,a\r\n", "csv"),
    (b"question,answer,citations\r\nq,a,hojokin-qa 1-1\r\n", "csv"),
    (b"question,answer,citations\r\nq,a\r\n", "csv"),
    (b"", "csv"),
    (b'{"answers": [{"question": "q", "answer": "a", "citations": [{"doc": "hojokin-qa"', "json"),
    (b'{"answers": {"question": "q"}}', "json"),
    (b'[{"question": "q", "answer": "a", "citations": [{"doc": "hojokin-qa", "section": "1-1", "edition": "x"}]}]',
     "json"),
    (b"\xff\xfe\x00\x00garbage\x81", "csv"),
], ids=["wrong-header", "missing-column", "bad-citation", "short-row", "empty", "malformed-json", "not-a-list",
        "bad-edition", "binary"])
def test_bad_import_files_are_refused(edition1: Path, data: bytes, fmt: str) -> None:
    with pytest.raises(AnswerImportError) as e:
        answers_io.parse(data, fmt)
    assert e.value.status == 422 and e.value.message


def test_import_is_all_or_nothing(edition1: Path) -> None:
    service.save(edition1, AnswerDraft("q", "a", (CitationRef(DOC, "1-1"),)))
    before = table_rows(edition1)
    text = "question,answer,citations\r\nq1,a1,hojokin-qa#1-1\r\nq2,a2,hojokin-qa#9-9\r\n"
    drafts, hashes = answers_io.from_csv(text.encode())
    with pytest.raises(InvalidAnswer) as e:
        service.import_drafts(edition1, drafts, hashes=hashes)
    assert "answer 2" in e.value.message
    assert table_rows(edition1) == before


# -- storage ------------------------------------------------------------------------------------------------------------


def test_schema_pragmas_and_cascade(edition1: Path) -> None:
    a = service.save(edition1, AnswerDraft("q", "a", (CitationRef(DOC, "1-1"), CitationRef(DOC, "1-2"))))
    with sqlite3.connect(edition1 / "answers.sqlite3") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    AnswerStore(edition1).delete(a.id)
    assert table_rows(edition1) == (0, 0)  # citations went with the answer
    assert AnswerStore(edition1).events(a.id)[-1]["kind"] == "deleted"  # the history keeps it


def test_newer_schema_is_refused(edition1: Path) -> None:
    service.save(edition1, AnswerDraft("q", "a", (CitationRef(DOC, "1-1"),)))
    with sqlite3.connect(edition1 / "answers.sqlite3") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(AnswerStoreError):
        AnswerStore(edition1).list()


def test_backup_is_a_consistent_copy(edition1: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    save_chosen(edition1)
    dest = AnswerStore(edition1).backup(tmp_path_factory.mktemp("bk") / "copy.sqlite3")
    with sqlite3.connect(dest) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy_dir = dest.parent
    (copy_dir / "answers.sqlite3").write_bytes(dest.read_bytes())
    assert [a.to_json() for a in AnswerStore(copy_dir).list()] == [a.to_json() for a in AnswerStore(edition1).list()]


def test_threads_and_a_cli_process_write_at_once(edition1: Path) -> None:
    """Several threads saving, editing and reading while a CLI process saves: nothing lost, nothing locked."""
    service.save(edition1, AnswerDraft("seed", "seed", (CitationRef(DOC, "1-1"),)))  # the schema exists
    errors: list[BaseException] = []
    per_thread, threads_n, cli_n = 15, 4, 6
    cli = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from cli.main import app\n"
         f"for i in range({cli_n}):\n"
         "    try: app(['--data-dir', sys.argv[1], 'answers', 'save', '--question', f'cli {i}', '--answer', 'a',"
         " '--cite', 'hojokin-qa#2-1'], standalone_mode=False)\n"
         "    except SystemExit: pass\n",
         str(edition1)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def work(n: int) -> None:
        try:
            for i in range(per_thread):
                a = service.save(edition1, AnswerDraft(f"t{n} {i}", "a", (CitationRef(DOC, "1-2"),)))
                service.edit(edition1, a.id, note=f"edited {i}")
                AnswerStore(edition1).list(q="t")
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out, err = cli.communicate(timeout=120)
    assert not errors, errors
    assert cli.returncode == 0, err
    answers = AnswerStore(edition1).list(limit=10_000)
    assert len(answers) == 1 + threads_n * per_thread + cli_n
    assert len({a.id for a in answers}) == len(answers)
    assert all(a.note.startswith("edited") for a in answers if a.question.startswith("t"))
    with sqlite3.connect(edition1 / "answers.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- the CLI --------------------------------------------------------------------------------------------------------------


def test_cli_ingest_rechecks_and_a_failed_ingest_changes_nothing(edition1: Path, tmp_path: Path) -> None:
    ids = save_chosen(edition1)
    snapshot = [a.to_json() for a in AnswerStore(edition1).list()]
    empty = tmp_path / "empty.txt"
    empty.write_text("", "utf-8")
    r = regkb("ingest", str(bundled(DOC)), str(empty), data_dir=edition1)  # the second file fails: nothing stored
    assert r.returncode == 2 and "empty.txt" in r.stderr
    assert [a.to_json() for a in AnswerStore(edition1).list()] == snapshot
    r = regkb("ingest", str(bundled(DOC)), "--doc", DOC, data_dir=edition1)
    assert r.returncode == 0, r.stderr
    assert "saved answers re-checked" in r.stdout
    assert_follows(edition1, ids)

    r = regkb("answers", "list", "--status", "needs-review", "--json", data_dir=edition1)
    assert r.returncode == 0, r.stderr
    listed = {a["id"] for a in json.loads(r.stdout)["answers"]}
    assert listed == {i for i, item in ids.items() if CHANGE_STATUS[item["change"]] == "needs-review"}
    some = next(iter(listed))
    r = regkb("answers", "show", str(some), data_dir=edition1)
    assert r.returncode == 0 and "needs-review" in r.stdout and "Q&A（第2版）" in r.stdout
    r = regkb("answers", "review", str(some), "--answer", "改訂した回答", data_dir=edition1)
    assert r.returncode == 0, r.stderr
    assert AnswerStore(edition1).get(some).status == "current"

    out = tmp_path / "answers.csv"
    r = regkb("answers", "export", "--format", "csv", "-o", str(out), data_dir=edition1)
    assert r.returncode == 0 and out.read_bytes().startswith(b"\xef\xbb\xbf")
    r = regkb("answers", "import", str(out), data_dir=edition1)
    assert r.returncode == 0 and f"imported {len(ids)}" in r.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("frage,antwort\nq,a\n", "utf-8")
    r = regkb("answers", "import", str(bad), data_dir=edition1)
    assert r.returncode == 2 and "wrong CSV header" in r.stderr and "Traceback" not in r.stderr
    r = regkb("answers", "backup", str(tmp_path / "bk"), data_dir=edition1)
    assert r.returncode == 0 and list((tmp_path / "bk").glob("answers-*.sqlite3"))
    r = regkb("answers", "show", "999", data_dir=edition1)
    assert r.returncode == 2 and "no saved answer 999" in r.stderr


def test_saving_against_an_older_edition_is_checked_at_once(edition1: Path) -> None:
    ingest_edition2(edition1)
    item = rows_by_class()["renumbered"][0]
    a = service.save(edition1, AnswerDraft("q", "a", (CitationRef(DOC, item["old"], 1),)))
    c = a.citations[0]
    assert (a.status, c.change, c.current_section, c.current_edition) == ("renumbered", "renumbered", item["new"], 2)
    latest = service.save(edition1, AnswerDraft("q", "a", (CitationRef(DOC, item["new"]),)))
    assert latest.status == "current" and latest.citations[0].edition == 2
