"""Issue 2: the corpus of record parsed from the bundled text files."""

from __future__ import annotations

import datetime as dt

import pytest

from corpus.collection import Corpus
from corpus.store import Store

QA_ITEMS = (
    ["1-1", "1-2", "1-3", "1-4"]
    + [f"2-{i}" for i in range(1, 13)]
    + [f"3-{i}" for i in range(1, 8)]
    + [f"4-{i}" for i in range(1, 5)]
)
YOUKOU = {
    **{str(i): None for i in range(1, 10)},
    "4(1)": "4", "4(2)": "4",
    **{f"4(1){k}": "4(1)" for k in "アイウエオカキクケコサシスセ"},
    **{f"4(2){k}": "4(2)" for k in "アイウエ"},
    **{f"5{k}": "5" for k in "アイウエ"},
    "7ア": "7", "7イ": "7", "8ア": "8", "8イ": "8",
}


@pytest.fixture(scope="module")
def corpus(bundled_store: Store) -> Corpus:
    return bundled_store.load()


def test_qa_has_exactly_27_items_with_question_and_answer(corpus: Corpus) -> None:
    qa = corpus.get("hojokin-qa")
    items = [c for c in qa.clauses if c.kind == "item"]
    assert [c.section for c in items] == QA_ITEMS
    for c in items:
        assert c.heading and c.answer, c.section
        assert c.parent == c.section.split("-")[0]
    assert qa.document.edition == 2 and qa.document.edition_label == "第2版"
    assert qa.document.issued == dt.date(2026, 3, 9)


def test_split_item_numbers_are_repaired(corpus: Corpus) -> None:
    c = corpus.clause("hojokin-qa", "2-11")
    assert c.heading.startswith("医療機関・薬局のシステム改修を支援する補助金")
    assert c.answer.startswith("→ 医療機関・薬局への周知に係る経費については本補助金の対象外")
    assert corpus.clause("hojokin-qa", "2-12").heading.startswith("本補助金によるシステム改修等を行うための調達")


def test_qa_answers_keep_bullets_notes_and_references(corpus: Corpus) -> None:
    c = corpus.clause("hojokin-qa", "1-4")
    assert c.heading == "ベンダに見積もり依頼中で金額が確定していないが、所要額調査を提出しても良いか。"
    assert "※補助金予算にも限りがありことから" in c.answer  # the ※ note belongs to the item
    assert "(※関連資料：1/28自治体説明会・厚生労働省資料P.5)" in corpus.clause("hojokin-qa", "1-1").answer
    assert corpus.clause("hojokin-qa", "3-3").heading.endswith("基準額は1800万円になるのか。")


def test_youkou_clauses_and_parents(corpus: Corpus) -> None:
    doc = corpus.get("jisshi-youkou")
    clauses = {c.section: c.parent for c in doc.clauses if c.kind == "clause"}
    assert clauses == YOUKOU
    assert doc.clauses[0].section == "前文" and "通知する" in doc.clauses[0].text
    assert doc.document.effective == dt.date(2025, 4, 1)
    assert corpus.clause("jisshi-youkou", "4(2)エ").citation == "実施要綱 4(2)エ"
    assert corpus.clause("jisshi-youkou", "４（２）エ").section == "4(2)エ"  # full-width lookups work


def test_wrapped_lines_are_joined(corpus: Corpus) -> None:
    text = corpus.clause("jisshi-youkou", "1").text
    assert "市区町村（市町村又は特別区をいう。以下同じ。）において、マイナンバーカード" in text
    assert "\n\n" not in text


def test_other_documents_split_into_citable_sections(corpus: Corpus) -> None:
    for doc_id, min_sections in (("pmh-senko-r5", 8), ("iryo-dx-pmh", 3), ("jimu-renraku-20250522", 4)):
        doc = corpus.get(doc_id)
        assert len(doc.clauses) >= min_sections
        for c in doc.clauses:
            assert c.section.startswith("p") and c.text and c.citation.endswith(c.section)


def test_every_clause_has_a_citation_and_offsets(corpus: Corpus) -> None:
    for parsed in corpus:
        for c in parsed.clauses:
            assert c.citation
            assert parsed.text[c.start:c.end] == c.text


def test_citation_format(corpus: Corpus) -> None:
    assert corpus.clause("hojokin-qa", "3-3").citation == "Q&A（第2版）3-3"
    assert corpus.clause("hojokin-qa", "3-3", edition=1).citation == "Q&A（第1版）3-3"


def test_edition_1_lives_beside_edition_2(corpus: Corpus) -> None:
    eds = corpus.editions("hojokin-qa")
    assert [p.document.edition for p in eds] == [1, 2]
    first = eds[0]
    assert first.document.issued == dt.date(2026, 2, 6)
    assert len([c for c in first.clauses if c.kind == "item"]) == 23
    assert corpus.get("hojokin-qa").document.edition == 2  # latest by default


def test_as_of_picks_the_edition_in_force(corpus: Corpus) -> None:
    assert corpus.in_force("hojokin-qa", dt.date(2026, 2, 20)).document.edition == 1
    assert corpus.in_force("hojokin-qa", dt.date(2026, 3, 9)).document.edition == 2
    assert corpus.in_force("hojokin-qa", dt.date(2025, 1, 1)) is None
