"""The bundled domain vocabulary (index/data/vocabulary.tsv) as data: it loads without a conflict, and every official
term it adds to a query is a word the bundled documents use (an added word the corpus never holds finds nothing)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from corpus.textnorm import fold
from index.vocabulary import BUNDLED, Vocabulary

SOURCES = Path(__file__).resolve().parents[1] / "corpus" / "sources"
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def _corpus_text() -> str:
    """The bundled sources as one folded string without markup or spaces (PDF text breaks words across lines)."""
    parts = []
    for path in sorted(SOURCES.rglob("*")):
        if path.suffix in {".txt", ".md", ".html"}:
            parts.append(_SPACE.sub("", fold(_TAG.sub("", path.read_text("utf-8")))))
    return "".join(parts)


def test_bundled_vocabulary_loads_without_a_conflict(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="index.vocabulary"):
        v = Vocabulary.load(BUNDLED)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert len(v.terms) > 2000


def test_every_official_term_occurs_in_the_bundled_documents() -> None:
    text = _corpus_text()
    officials = set(Vocabulary.load(BUNDLED).terms.values())
    missing = sorted(t for t in officials if _SPACE.sub("", fold(t)) not in text)
    assert not missing


@pytest.mark.parametrize(("query", "official"), [
    ("難病の受給者証を病院で見せないとどうなる", "医療受給者証"),   # a statute's word for the patient's certificate
    ("この医療費は誰が払うの", "支弁"),                         # who bears a cost, in the statutes' word
    ("虫歯の治療費の援助", "学習に支障を生ずるおそれのある疾病"),  # 学校保健安全法's 学校病 in a parent's words
    ("システム代は出ますか", "システム改修"),                     # the subsidy documents' words stay as they were
])
def test_statute_concepts_in_everyday_words(query: str, official: str) -> None:
    assert official in Vocabulary.load(BUNDLED).expansions(query)
