"""Issue 4: cross-references resolved at build time, in both directions."""

from __future__ import annotations

from corpus.refs import resolve_refs
from corpus.store import Store


def test_qa_answers_link_to_the_youkou(bundled_store: Store) -> None:
    corpus = resolve_refs(bundled_store.load())
    # in reading order: 「実施要綱4（2）エ」, then 「マイナンバー法の別表の40の項」, then 「実施要綱5ウ」
    assert corpus.clause("hojokin-qa", "2-9").refs == ("jisshi-youkou@1#4(2)エ", "425AC0000000027@1#別表40の項",
                                                       "jisshi-youkou@1#5ウ")
    assert corpus.clause("hojokin-qa", "3-7").refs == ("jisshi-youkou@1#4(1)", "jisshi-youkou@1#4(2)")
    assert corpus.clause("hojokin-qa", "3-2").refs == ("hojokin-qa@2#3-1",)  # 「3-1によって算定された基準額」
    assert corpus.clause("hojokin-qa", "1-1").refs == ()  # "1/28" and "P.5" are not references


def test_references_are_in_the_build(searcher) -> None:  # type: ignore[no-untyped-def]
    clause = searcher.corpus.clause("hojokin-qa", "2-9")
    assert "jisshi-youkou@1#5ウ" in clause.refs
