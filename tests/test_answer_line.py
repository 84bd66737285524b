"""Issue 11: the answer line is self-contained — never a bare 「可能です。」 — for Q&A items, 要綱 clauses and slides."""

from __future__ import annotations

import re

import pytest

from corpus.errors import RegkbError
from corpus.model import Clause
from corpus.store import Store
from index.answer_line import answer_line, sentences
from index.units import indexable

BARE = re.compile(r"^(?:→\s*)?(?:可能です|対象となります|できます|不要です|必要です|該当します|問題ありません)。?$")


def _clause(**kw: object) -> Clause:
    base = dict(doc_id="d", edition=1, section="1-1", kind="item", heading="", text="", parent=None, answer=None,
                citation="Q&A 1-1")
    base.update(kw)
    return Clause(**base)  # type: ignore[arg-type]


def test_bare_answer_gets_its_subject_back_from_the_question() -> None:
    c = _clause(heading="国の補助金に加え、都道府県が補助を行うことは可能か。", text="…", answer="→ 可能です。なお、…")
    line = answer_line(c)
    assert line == "国の補助金に加え、都道府県が補助を行うことは、可能です。"


def test_answer_without_subject_is_shown_with_its_question() -> None:
    c = _clause(heading="本補助金は、概算払いとなるのか。", text="…", answer="- 概算払いを行う予定です。")
    assert answer_line(c) == "本補助金は、概算払いとなるのか。→ 概算払いを行う予定です。"


def test_an_answer_that_names_its_subject_stands_alone() -> None:
    c = _clause(heading="学校保健安全法に基づく医療費援助は対象か。",
                answer="- 学校保健安全法に基づく医療費援助についても、本補助金の対象となります。詳しくは…")
    assert answer_line(c) == "学校保健安全法に基づく医療費援助についても、本補助金の対象となります。"


def test_a_list_item_is_led_by_its_parent() -> None:
    parent = _clause(section="4(2)", kind="clause", heading="地方単独医療費助成のうち",
                     text="（２）地方単独医療費助成のうち、アからエまでに掲げるもの（紙の受給者証を用いているものに限る。）")
    child = _clause(section="4(2)ア", kind="clause", heading="こどもの医療費に係る地方単独医療費助成",
                    text="こどもの医療費に係る地方単独医療費助成", parent="4(2)")
    line = answer_line(child, parent=parent)
    assert line == ("地方単独医療費助成のうち、アからエまでに掲げるもの（紙の受給者証を用いているものに限る。）："
                    "こどもの医療費に係る地方単独医療費助成")


def test_sentences_ignore_full_stops_inside_brackets() -> None:
    assert sentences("法律（平成17年法律第123号。以下「法」という。）の規定による。次の文。") == [
        "法律（平成17年法律第123号。以下「法」という。）の規定による。", "次の文。"]


def test_no_bundled_clause_leads_with_a_bare_answer(bundled_store: Store) -> None:
    corpus = bundled_store.load()
    lines = 0
    for p in corpus:
        for c in p.clauses:
            if not indexable(c):  # never a result (Q&A group titles)
                continue
            try:
                parent = corpus.clause(c.doc_id, c.parent, c.edition) if c.parent else None
            except RegkbError:  # a grouping heading that is not itself a clause (a law's 附則)
                parent = None
            line = answer_line(c, parent=parent)
            if line is None:
                continue
            lines += 1
            assert not BARE.match(line.strip()), (c.citation, line)
            if p.document.kind != "law" and len(c.text.strip()) > 12:  # not a heading-only clause (「７ 契約等…」)
                assert len(line) >= 12, (c.citation, line)
    assert lines > 100


@pytest.mark.parametrize("section", ["3-6", "3-4", "2-2"])
def test_real_short_answers_name_their_subject(bundled_store: Store, section: str) -> None:
    c = bundled_store.load().clause("hojokin-qa", section)
    line = answer_line(c)
    assert line is not None
    assert ("→" in line) or ("は、" in line)
