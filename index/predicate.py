"""The main predicate of a sentence: the last content word before its closing function words.

A question's predicate says what is asked about the thing it names (申請する？ 対象になる？ 終わらせればいい？);
a clause whose lead sentence ends on the same predicate answers that (「…都道府県に申請をしなければならない」),
one that only mentions the same nouns does not (「…の申請に係る…支給認定を行うものとする」).
"""

from __future__ import annotations

from collections.abc import Iterable

from index.tokenizer import Morpheme, Tokenizer

# formal nouns and light verbs that close a sentence without carrying its meaning
_FORMAL = frozenset({"物", "事", "為る", "成る", "居る", "有る", "出来る", "良い", "無い", "様", "旨", "所", "積もり",
                     "筈", "訳", "方", "必要", "可能", "場合", "の", "ん"})
_CONTENT_POS = frozenset({"名詞", "動詞", "形容詞"})
_TOKENIZER = Tokenizer()


def predicate(sentence: str) -> str | None:
    """The lemma of the sentence's last content word (noun, verb or adjective, not a formal one), or None."""
    return predicate_of(_TOKENIZER.morphemes(sentence))


def predicate_of(words: Iterable[Morpheme]) -> str | None:
    """``predicate`` of a sentence already tagged (Tokenizer.morphemes / Tokenizer.analyse(...).words): the query's
    predicate comes from the pass that tokenized it, not from a second one."""
    last: str | None = None
    for surface, pos1, pos2, lemma in words:
        if pos1 not in _CONTENT_POS or pos2 in ("数詞", "固有名詞"):
            continue
        lemma = (lemma or surface).split("-")[0]
        if lemma in _FORMAL or (pos1 != "名詞" and pos2 == "非自立可能"):
            continue
        last = lemma
    return last
