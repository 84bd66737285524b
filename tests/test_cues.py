"""Question-type cues and the predicate match that the learned fusion uses as features."""

import pytest

from index.predicate import predicate
from index.rerank import asks_where, names_destination


@pytest.mark.parametrize("sentence, expected", [
    ("指定難病の支給認定はどこに申請する？", "申請"),
    ("その居住地の都道府県に申請をしなければならない。", "申請"),
    # the noun 申請 is mentioned, but the rule is about 行う (making the decision), not applying
    ("都道府県は、前条第一項の申請に係る指定難病の患者が、支給認定を行うものとする。", "行う"),
    ("補助対象となります。", "対象"),
    ("令和8年度末までに完了する必要があります。", "完了"),
])
def test_predicate_is_the_last_content_word(sentence: str, expected: str) -> None:
    assert predicate(sentence) == expected


def test_predicate_of_function_words_only_is_none() -> None:
    assert predicate("ですか？") is None


@pytest.mark.parametrize("query", ["指定難病の支給認定はどこに申請する？", "小慢の医療費の申請って、何を添えてどこに出すの？",
                                   "自立支援医療の申請先って市町村？都道府県？"])
def test_asks_where_to_apply(query: str) -> None:
    assert asks_where(query)


@pytest.mark.parametrize("query", ["補助率は？", "改修はいつまでに終わらせる？", "どこの自治体が参加していますか"])
def test_other_questions_do_not_ask_where_to_apply(query: str) -> None:
    assert not asks_where(query)


def test_destination_needs_an_authority_the_procedure_goes_to() -> None:
    assert names_destination("その居住地の都道府県に申請をしなければならない")
    assert names_destination("市町村長に対し、当該支給認定の変更の申請をすることができる")
    assert not names_destination("都道府県は、前条第一項の申請に係る指定難病の患者が")
