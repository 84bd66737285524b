"""Edition diffs: content alignment of Q&A items / clauses / pages, inline diffs, change notes, 新旧対照表 renderers."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.diff import MERGE_GAP, EditionDiff, change_notes, diff_editions, hungarian, inline_diff
from api.render_diff import to_html, to_html_page
from api.render_diff_md import to_markdown
from corpus.model import Clause, ParsedDocument, Span
from ingest.pipeline import Overrides, bundled_entries, parse_file

DATA = Path(__file__).parent / "data"

Row = tuple[str, str | None, str | None]


@cache
def _bundled(doc_id: str) -> ParsedDocument:
    entry = next(e for e in bundled_entries() if e.overrides.doc_id == doc_id)
    return parse_file(entry.path, entry.overrides)


@cache
def _qa1() -> ParsedDocument:
    return parse_file(DATA / "hojokin-qa-edition1.txt", Overrides(doc_id="hojokin-qa", kind="qa", label="Q&A"))


def _qa2() -> ParsedDocument:
    return _bundled("hojokin-qa")


def _rows(diff: EditionDiff) -> list[Row]:
    return [(i.change, i.new, i.old) for i in diff.items]


def _items(doc: ParsedDocument) -> list[Clause]:
    return [c for c in doc.clauses if c.kind == "item"]


def _item(doc: ParsedDocument, section: str) -> Clause:
    c = doc.clause(section)
    assert c is not None
    return c


def _edited(c: Clause, *, question: str | None = None, answer: str | None = None, chapter: str | None = None) -> Clause:
    """A Q&A item with a new question and/or answer (text rebuilt as question + "\\n" + answer), or moved."""
    q = c.heading if question is None else question
    a = (c.answer or "") if answer is None else answer
    return replace(c, heading=q, answer=a, text=f"{q}\n{a}", parent=chapter or c.parent)


def _edition(base: ParsedDocument, items: list[Clause], edition: int = 3) -> ParsedDocument:
    """``base`` with its Q&A items replaced by ``items``, renumbered per chapter in the order given."""
    counters: dict[str | None, int] = {}
    numbered: list[Clause] = []
    for c in items:
        counters[c.parent] = counters.get(c.parent, 0) + 1
        numbered.append(replace(c, section=f"{c.parent}-{counters[c.parent]}", edition=edition))
    clauses: list[Clause] = []
    for c in base.clauses:
        if c.kind == "item":
            continue
        clauses.append(replace(c, edition=edition))
        clauses.extend(n for n in numbered if n.parent == c.section)
    doc = replace(base.document, edition=edition, edition_label=f"第{edition}版")
    return ParsedDocument(doc, tuple(replace(c, order=k) for k, c in enumerate(clauses)), base.text)


def _unchanged_rows(sections: list[str]) -> list[Row]:
    return [("unchanged", s, s) for s in sections]


# ---------------------------------------------------------------------------------------------------------------------
# The fixture pair


def test_fixture_reproduces_expected_diff() -> None:
    expected = json.loads((DATA / "hojokin-qa-edition1-to-2.expected.json").read_text("utf-8"))
    got = diff_editions(_qa1(), _qa2()).to_json()
    assert (got["old_edition"], got["new_edition"]) == (expected["old_edition"], expected["new_edition"]) == (1, 2)
    assert [(i["change"], i["new"], i["old"]) for i in got["items"]] == [
        (i["change"], i["new"], i["old"]) for i in expected["items"]
    ]


def test_fixture_json_extras() -> None:
    d = diff_editions(_qa1(), _qa2())
    js = json.loads(json.dumps(d.to_json(), ensure_ascii=False))
    assert js["summary"] == {
        "unchanged": 17, "modified": 4, "renumbered": 2, "renumbered+modified": 0, "added": 4, "removed": 0,
    }
    first = js["items"][0]
    before, _, after = first["old_text"].partition("500")
    assert first["inline"] == [
        {"op": "equal", "text": before},
        {"op": "delete", "text": "5"},
        {"op": "insert", "text": "6"},
        {"op": "equal", "text": "00" + after},
    ]
    assert 0.9 < first["similarity"] < 1.0
    renumbered = next(i for i in d.items if i.change == "renumbered")
    assert renumbered.similarity == 1.0 and renumbered.inline == [] and renumbered.new_heading == renumbered.old_heading
    added = next(i for i in d.items if i.change == "added")
    assert added.old_text is None and added.new_text and added.similarity == 0.0


def test_change_notes_for_fixture() -> None:
    notes = change_notes(_qa1(), _qa2())
    assert notes["2-9"] == "第2版で追記"
    assert notes["2-11"] == "第2版で番号変更（旧2-9）"
    assert notes["1-1"] == "第2版で変更"
    assert "2-1" not in notes  # unchanged items get no note
    assert set(notes) == {"1-1", "1-4", "2-4", "2-9", "2-10", "2-11", "2-12", "3-5", "3-7", "4-1"}


def test_change_notes_from_underlines_without_old_edition() -> None:
    qa2 = _qa2()
    marked = tuple(replace(c, changed_spans=(Span(0, 3),)) if c.section == "3-5" else c for c in qa2.clauses)
    assert change_notes(None, replace(qa2, clauses=marked)) == {"3-5": "第2版で変更（下線部）"}
    assert change_notes(None, qa2) == {}
    unlabelled = replace(qa2, clauses=marked, document=replace(qa2.document, edition_label=None))
    assert change_notes(None, unlabelled) == {"3-5": "第2版で変更（下線部）"}  # falls back to f"第{edition}版"


# ---------------------------------------------------------------------------------------------------------------------
# Generated edits on the real 第2版


def test_identical_editions_are_unchanged() -> None:
    qa2 = _qa2()
    d = diff_editions(qa2, _edition(qa2, _items(qa2)))
    assert _rows(d) == _unchanged_rows([c.section for c in _items(qa2)])
    assert d.counts()["unchanged"] == 27 and not d.changed


def test_removal_renumbers_later_items() -> None:
    qa2 = _qa2()
    new = _edition(qa2, [c for c in _items(qa2) if c.section != "2-3"])
    rows = _rows(diff_editions(qa2, new))
    assert rows[4:8] == [
        ("unchanged", "2-1", "2-1"),
        ("unchanged", "2-2", "2-2"),
        ("removed", None, "2-3"),  # right after the row of its old predecessor
        ("renumbered", "2-3", "2-4"),
    ]
    assert rows[8:16] == [("renumbered", f"2-{k}", f"2-{k + 1}") for k in range(4, 12)]
    assert rows[16:] == _unchanged_rows([c.section for c in _items(qa2) if c.parent in ("3", "4")])


def test_insertion_renumbers_later_items() -> None:
    qa2 = _qa2()
    template = _item(qa2, "3-1")
    extra = _edited(
        template,
        question="補助金の交付決定前に契約したシステム改修の経費は、本補助金の対象となるのか。",
        answer="→ 交付決定前に契約・発注した経費は、原則として補助対象外です。事前着手が必要な場合は事前にご相談ください。",
    )
    items = _items(qa2)
    k = items.index(template) + 1
    new = _edition(qa2, items[:k] + [extra] + items[k:])
    rows = _rows(diff_editions(qa2, new))
    chapter3 = [r for r in rows if (r[1] or r[2] or "").startswith("3-")]
    assert chapter3 == [
        ("unchanged", "3-1", "3-1"),
        ("added", "3-2", None),
        *[("renumbered", f"3-{n + 1}", f"3-{n}") for n in range(2, 8)],
    ]
    assert sum(r[0] == "unchanged" for r in rows) == 27 - 6


def test_swapped_items_are_renumbered() -> None:
    qa2 = _qa2()
    items = _items(qa2)
    items[1], items[2] = items[2], items[1]  # 1-2 <-> 1-3
    rows = _rows(diff_editions(qa2, _edition(qa2, items)))
    assert rows[:4] == [
        ("unchanged", "1-1", "1-1"),
        ("renumbered", "1-2", "1-3"),
        ("renumbered", "1-3", "1-2"),
        ("unchanged", "1-4", "1-4"),
    ]
    assert all(r[0] == "unchanged" for r in rows[4:])


def test_item_moved_to_another_chapter_unchanged_is_renumbered() -> None:
    qa2 = _qa2()
    items = _items(qa2)
    moved = _item(qa2, "1-2")
    items = [c for c in items if c is not moved] + [replace(moved, parent="4")]
    rows = _rows(diff_editions(qa2, _edition(qa2, items)))
    assert ("renumbered", "4-5", "1-2") in rows
    assert ("renumbered", "1-2", "1-3") in rows and ("renumbered", "1-3", "1-4") in rows


def test_small_answer_edit_is_modified() -> None:
    qa2 = _qa2()
    target = _item(qa2, "3-4")
    answer = (target.answer or "").replace("。", "。ただし、交付決定後に概算払の請求を行うことも可能です。", 1)
    new = _edition(qa2, [_edited(c, answer=answer) if c is target else c for c in _items(qa2)])
    d = diff_editions(qa2, new)
    (row,) = [i for i in d.items if i.change != "unchanged"]
    assert (row.change, row.new, row.old) == ("modified", "3-4", "3-4")
    # One inserted run of the added sentence's length (difflib may anchor it one "です。" earlier: equally minimal).
    (change,) = [op for op in row.inline if op[0] != "equal"]
    assert change[0] == "insert" and len(change[1]) == len("ただし、交付決定後に概算払の請求を行うことも可能です。")


def test_large_answer_rewrite_keeping_question_is_modified() -> None:
    qa2 = _qa2()
    target = _item(qa2, "4-2")
    answer = (
        "→ 対応状況は月次で更新しており、最新の一覧は各都道府県の担当窓口にお問い合わせいただくか、"
        "国保連合会から配布される資料をご確認ください。なお、一覧に掲載のない施設であっても、"
        "個別に照会いただければ順次回答いたします。"
    )
    new = _edition(qa2, [_edited(c, answer=answer) if c is target else c for c in _items(qa2)])
    d = diff_editions(qa2, new)
    assert [(i.change, i.new, i.old) for i in d.changed] == [("modified", "4-2", "4-2")]


def test_question_rephrased_is_modified() -> None:
    qa2 = _qa2()
    target = _item(qa2, "3-2")
    question = "本補助金の国庫補助額は、どのような方法で算定されるのか。"
    new = _edition(qa2, [_edited(c, question=question) if c is target else c for c in _items(qa2)])
    assert [(i.change, i.new, i.old) for i in diff_editions(qa2, new).changed] == [("modified", "3-2", "3-2")]


def test_unrelated_replacement_is_removed_and_added() -> None:
    qa2 = _qa2()
    target = _item(qa2, "3-4")
    other = _edited(
        target,
        question="災害等により窓口が閉鎖された場合、受給者証の再交付はどのように行うのか。",
        answer="→ 臨時窓口の設置や郵送での受付を行うなど、住民の利便性に配慮した方法で再交付を行ってください。",
    )
    new = _edition(qa2, [other if c is target else c for c in _items(qa2)])
    rows = _rows(diff_editions(qa2, new))
    k = rows.index(("unchanged", "3-3", "3-3"))
    assert rows[k + 1 : k + 4] == [("removed", None, "3-4"), ("added", "3-4", None), ("unchanged", "3-5", "3-5")]


def test_shared_boilerplate_answer_alone_does_not_match() -> None:
    # 2-2 and 2-3 of the 第2版 have the very same answer: a new question with that answer is a new item.
    qa2 = _qa2()
    target = _item(qa2, "2-3")
    other = _edited(target, question="住民票の写しの交付に係る手数料の見直しに伴うシステム改修は、対象となるのか。")
    new = _edition(qa2, [other if c is target else c for c in _items(qa2)])
    changed = [(i.change, i.new, i.old) for i in diff_editions(qa2, new).changed]
    assert changed == [("removed", None, "2-3"), ("added", "2-3", None)]


def test_moved_and_edited_item_is_renumbered_and_modified() -> None:
    qa2 = _qa2()
    items = _items(qa2)
    target = _item(qa2, "2-5")
    answer = (target.answer or "") + "\nなお、標準化対応の進捗に応じて、改修時期を調整いただいて差し支えありません。"
    moved = _edited(target, answer=answer, chapter="3")
    new = _edition(qa2, [c for c in items if c is not target] + [moved])
    rows = _rows(diff_editions(qa2, new))
    assert ("renumbered+modified", "3-8", "2-5") in rows
    assert [r for r in rows if r[0] == "renumbered"] == [("renumbered", f"2-{k}", f"2-{k + 1}") for k in range(5, 12)]
    assert sum(r[0] == "unchanged" for r in rows) == 27 - 8


def test_removed_first_item_goes_to_the_end() -> None:
    qa2 = _qa2()
    rows = _rows(diff_editions(qa2, _edition(qa2, _items(qa2)[1:])))
    assert rows[0] == ("renumbered", "1-1", "1-2")
    assert rows[-1] == ("removed", None, "1-1")


def test_youkou_clause_numbers_in_text_do_not_count_as_edits() -> None:
    youkou = _bundled("jisshi-youkou")
    two, three = youkou.clause("2"), youkou.clause("3")
    assert two is not None and three is not None and two.text.startswith("２") and three.text.startswith("３")
    swapped = {
        "2": replace(three, section="2", text="２" + three.text[1:]),
        "3": replace(two, section="3", text="３" + two.text[1:]),
    }
    new = replace(youkou, clauses=tuple(swapped.get(c.section, c) for c in youkou.clauses))
    changed = [(i.change, i.new, i.old) for i in diff_editions(youkou, new).changed]
    assert changed == [("renumbered", "2", "3"), ("renumbered", "3", "2")]


def test_slide_pages_are_aligned() -> None:
    slides = _bundled("pmh-senko-r5")
    pages = [c for c in slides.clauses if c.kind == "page" and c.section != "p3"]
    renamed = tuple(replace(c, section=f"p{k}") for k, c in enumerate(pages, start=1))
    rows = _rows(diff_editions(slides, replace(slides, clauses=renamed)))
    assert rows[:4] == [
        ("unchanged", "p1", "p1"),
        ("unchanged", "p2", "p2"),
        ("removed", None, "p3"),
        ("renumbered", "p3", "p4"),
    ]
    assert all(r[0] == "renumbered" for r in rows[4:])


def test_hungarian_is_optimal_where_greedy_is_not() -> None:
    # Greedy takes (0,0)=9 and is left with (1,1)=1: total 10; the optimum is 8 + 7 = 15.
    profit = [[9.0, 8.0], [7.0, 1.0]]
    assert hungarian([[-p for p in row] for row in profit]) == [1, 0]
    assert hungarian([[1.0, 2.0, 0.5]]) == [2]
    assert hungarian([]) == []


# ---------------------------------------------------------------------------------------------------------------------
# inline_diff


def test_inline_diff_single_digit() -> None:
    assert inline_diff("令和7年度中には500を超える", "令和7年度中には600を超える") == [
        ("equal", "令和7年度中には"),
        ("delete", "5"),
        ("insert", "6"),
        ("equal", "00を超える"),
    ]


def test_inline_diff_merges_short_equal_runs_into_phrases() -> None:
    # "年度" (2 characters) between two changes is folded in: one replaced phrase, not two confetti edits.
    assert inline_diff("令和7年度末まで", "令和8年度中まで") == [
        ("equal", "令和"),
        ("delete", "7年度末"),
        ("insert", "8年度中"),
        ("equal", "まで"),
    ]
    # An equal run of 3 characters separates two changes.
    assert inline_diff("基本的に令和9年2月までに", "原則として令和9年3月末までに") == [
        ("delete", "基本的に"),
        ("insert", "原則として"),
        ("equal", "令和9年"),
        ("delete", "2月"),
        ("insert", "3月末"),
        ("equal", "までに"),
    ]


def test_inline_diff_edges() -> None:
    assert inline_diff("", "") == []
    assert inline_diff("", "追加") == [("insert", "追加")]
    assert inline_diff("削除", "") == [("delete", "削除")]
    assert inline_diff("同じ", "同じ") == [("equal", "同じ")]
    assert inline_diff("AB", "AxB") == [("equal", "A"), ("insert", "x"), ("equal", "B")]


_JA = st.text(alphabet="令和年度のを医療費助成AB12 \n", max_size=40)


@settings(max_examples=200, deadline=None)
@given(_JA, _JA)
def test_inline_diff_reconstructs_both_texts(old: str, new: str) -> None:
    ops = inline_diff(old, new)
    assert "".join(t for op, t in ops if op != "insert") == old
    assert "".join(t for op, t in ops if op != "delete") == new
    assert all(t for _, t in ops)  # no empty runs
    tags = [op for op, _ in ops]
    assert all(pair in {("equal", "delete"), ("equal", "insert"), ("delete", "insert"), ("delete", "equal"),
                        ("insert", "equal")} for pair in zip(tags, tags[1:]))
    for k in range(1, len(ops) - 1):  # no equal run of <= MERGE_GAP characters left between two changes
        assert ops[k][0] != "equal" or len(ops[k][1]) > MERGE_GAP


# ---------------------------------------------------------------------------------------------------------------------
# Renderers


def _injected_diff() -> EditionDiff:
    qa2 = _qa2()
    target = _item(qa2, "1-2")
    evil = _edited(target, answer=(target.answer or "") + '\n<script>alert("x")</script> & <b>太字</b> | *星*')
    return diff_editions(qa2, _edition(qa2, [evil if c is target else c for c in _items(qa2)]))


def test_markdown_has_one_row_per_item_and_marks_changes() -> None:
    d = diff_editions(_qa1(), _qa2())
    md = to_markdown(d)
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert rows[0] == "| 区分 | 改正後（第2版） | 改正前（第1版） |"
    assert len(rows) - 2 == len(d.items) == 27  # minus the header and the separator
    first = rows[2]
    assert first.startswith("| 変更 | `1-1` ") and "には**6**00を" in first and "には~~5~~00を" in first
    assert all(line.count(" | ") == 2 for line in rows[2:])  # no stray pipes from the text


def test_markdown_escapes_document_text() -> None:
    md = to_markdown(_injected_diff())
    assert "<script>" not in md and "\\<script\\>" in md and "\\|" in md


def test_html_escapes_document_text() -> None:
    h = to_html(_injected_diff())
    assert "<script" not in h and "<b>" not in h
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in h


def test_html_table_marks_changes() -> None:
    d = diff_editions(_qa1(), _qa2())
    h = to_html(d)
    assert h.startswith('<table class="shinkyu">')
    assert h.count("<tr id=") == len(d.items)  # every row can be opened by its anchor (a 「第2版で変更」 badge)
    assert all(f'<tr id="s-{i.new}"' in h for i in d.items if i.new is not None)
    assert "<ins>6</ins>" in h and "<del>5</del>" in h and "<del></del>" not in h


def test_html_page_is_standalone() -> None:
    d = diff_editions(_qa1(), _qa2())
    page = to_html_page(d)
    assert page.startswith("<!DOCTYPE html>") and '<html lang="ja">' in page and '<meta charset="utf-8">' in page
    assert "<style>" in page and to_html(d) in page
    # No external resources: no links, sources, imports or scripts; URLs only appear as escaped document text.
    assert not re.search(r"(?i)\b(?:href|src)\s*=|url\(|@import|<link|<script", page)
    assert "http" not in to_html_page(diff_editions(_qa2(), _qa2()))


def test_diff_is_fast() -> None:
    t = time.perf_counter()
    for _ in range(5):
        diff_editions(_qa1(), _qa2())
    assert time.perf_counter() - t < 2.0


@pytest.mark.parametrize("doc_id", ["jisshi-youkou", "pmh-senko-r5", "iryo-dx-pmh", "jimu-renraku-20250522"])
def test_every_bundled_document_diffs_against_itself(doc_id: str) -> None:
    doc = _bundled(doc_id)
    d = diff_editions(doc, doc)
    assert d.items and all(i.change == "unchanged" for i in d.items)
    assert len(to_markdown(d).splitlines()) == len(d.items) + 6
