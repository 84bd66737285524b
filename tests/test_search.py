"""Issue 3: the index on the real corpus — round trip, manifest checks, filters, cited results."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from corpus.errors import BadQuery, DocumentNotFound, EditionNotFound, IndexMismatch, IndexNotBuilt
from corpus.store import Store
from index.build import SCHEMA_VERSION
from index.layout import current_build
from index.search import FusionConfig, SearchFilters, Searcher

Q_2_9 = "学校保健安全法に基づく医療費援助はこの補助金の対象ですか"


def test_manifest_records_the_build(built_data_dir: Path) -> None:
    m = json.loads((current_build(built_data_dir) / "manifest.json").read_text())
    assert m["schema"] == SCHEMA_VERSION and m["corpus_hash"] == Store(built_data_dir).state_hash()
    assert m["model"]["dim"] == 384 and m["dense"]["factory"] == "Flat"
    assert m["tokenizer"]["fugashi"] and m["tokenizer"]["unidic-lite"]
    # five subsidy documents (the Q&A in two editions) and the seven statutes they cite
    assert m["counts"]["documents"] == 12 and m["counts"]["editions"] == 13
    # a fresh data directory: every distinct passage text was embedded by this build (a rebuild finds them cached)
    assert m["dense"]["cached"] == 0 and 0.9 * m["dense"]["passages"] < m["dense"]["embedded"] <= m["dense"]["passages"]
    assert m["row_facts"]["rows"] == m["counts"]["rows"]
    for f in ("bm25", "dense.faiss", "rows.jsonl", "clauses.jsonl", "documents.json", "rowfacts.json"):
        assert (current_build(built_data_dir) / f).exists()
    assert not list((built_data_dir / "index" / "builds").glob(".tmp-*"))


def test_end_to_end_first_hit_is_cited(searcher: Searcher) -> None:
    r = searcher.search(Q_2_9)
    top = r.hits[0]
    assert (top.doc, top.section, top.edition, top.citation) == ("hojokin-qa", "2-9", 2, "Q&A（第2版）2-9")
    assert top.answer == "学校保健安全法に基づく医療費援助についても、オンライン資格確認や本補助金の対象となります。"
    assert top.bm25_rank is not None and top.dense_rank is not None
    assert r.confident and r.verdict == "answer" and r.fusion["method"] == "learned"
    assert r.fusion["query_adapter"] is True  # the bundled adapter fits the bundled model
    rrf = searcher.search(Q_2_9, fusion=FusionConfig("rrf"))  # the earlier hand-weighted fusion, for comparisons
    assert rrf.fusion["method"] == "rrf" and rrf.fusion["weights"]["bm25"] == 1.5
    s, e = top.snippet_highlights[0]
    assert top.snippet[s:e] in Q_2_9


def test_youkou_clause_found(searcher: Searcher) -> None:
    r = searcher.search("PIAはいつまでに行う必要がありますか", k=5)
    assert r.hits[0].citation == "実施要綱 5エ"


def test_modes(searcher: Searcher) -> None:
    for mode in ("bm25", "dense"):
        r = searcher.search(Q_2_9, mode=mode)  # type: ignore[arg-type]
        assert r.hits[0].section == "2-9" and r.mode == mode


def test_latest_edition_by_default(searcher: Searcher) -> None:
    r = searcher.search("チラシ等を作成した場合の経費", k=20)
    assert all(h.edition == 2 for h in r.hits if h.doc == "hojokin-qa")
    assert r.hits[0].citation == "Q&A（第2版）2-11"


def test_edition_and_as_of_filters(searcher: Searcher) -> None:
    r = searcher.search("チラシ等を作成した場合の経費", filters=SearchFilters(doc="hojokin-qa", edition=1))
    assert r.hits[0].citation == "Q&A（第1版）2-9"
    r = searcher.search("チラシ等を作成した場合の経費", filters=SearchFilters(as_of=dt.date(2026, 2, 20)))
    assert r.hits[0].citation == "Q&A（第1版）2-9"
    assert all(h.edition == 1 or h.doc != "hojokin-qa" for h in r.hits)
    r = searcher.search("チラシ等を作成した場合の経費", filters=SearchFilters(as_of=dt.date(2026, 3, 9)))
    assert r.hits[0].citation == "Q&A（第2版）2-11"


def test_doc_and_kind_filters(searcher: Searcher) -> None:
    r = searcher.search("補助の対象", filters=SearchFilters(doc="jisshi-youkou"))
    assert r.hits and {h.doc for h in r.hits} == {"jisshi-youkou"}
    r = searcher.search("補助の対象", filters=SearchFilters(kind="slides"))
    assert r.hits and {h.kind for h in r.hits} == {"page"}
    with pytest.raises(DocumentNotFound):
        searcher.search("補助", filters=SearchFilters(doc="nope"))
    with pytest.raises(EditionNotFound):
        searcher.search("補助", filters=SearchFilters(doc="hojokin-qa", edition=9))


def test_out_of_corpus_is_not_confident(searcher: Searcher) -> None:
    for q in ("今日の天気は", "児童手当の支給日はいつですか"):
        assert not searcher.search(q).confident


def test_bad_queries(searcher: Searcher) -> None:
    for q in ("", "   \u3000 "):
        with pytest.raises(BadQuery, match="empty"):
            searcher.search(q)
    with pytest.raises(BadQuery, match="over the limit"):
        searcher.search("あ" * 501)


def test_round_trip_and_mismatch(built_data_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built_data_dir, copy)
    s = Searcher.load(copy)
    assert s.search(Q_2_9, mode="bm25").hits[0].section == "2-9"
    # The corpus changes after the build: loading says to rebuild.
    from ingest.pipeline import Overrides, ingest_paths

    ingest_paths([Path(__file__).parent / "data" / "hojokin-qa-edition1.txt"], Store(copy), Overrides(edition=5))
    with pytest.raises(IndexMismatch, match="regkb build"):
        Searcher.load(copy)
    assert Searcher.load(copy, check_corpus=False).manifest["build_id"] == s.manifest["build_id"]
    # A build from another schema version is refused with what to do.
    manifest = current_build(copy) / "manifest.json"
    m = json.loads(manifest.read_text())
    m["schema"] = 99
    manifest.write_text(json.dumps(m))
    with pytest.raises(IndexMismatch, match="schema 99"):
        Searcher.load(copy, check_corpus=False)


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotBuilt, match="regkb build"):
        Searcher.load(tmp_path)


def test_results_say_when_the_clause_changed_in_its_edition(searcher: Searcher) -> None:
    r = searcher.search("周知用チラシの作成経費は対象？", k=3)
    assert r.hits[0].citation == "Q&A（第2版）2-11"
    assert r.hits[0].note == "第2版で番号変更（旧2-9）"
    added = searcher.search(Q_2_9).hits[0]
    assert added.note == "第2版で追記"


def test_query_limit_comes_from_the_settings(built_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """REGKB_MAX_QUERY_CHARS raised: the Searcher loaded with the settings accepts the longer query (the API's
    schema follows the same setting: tests/test_api.py); one check for every caller (corpus.query.check_query)."""
    from api.settings import Settings
    from corpus.query import MAX_QUERY_CHARS, check_query

    monkeypatch.delenv("REGKB_MAX_QUERY_CHARS", raising=False)
    assert Settings().max_query_chars == MAX_QUERY_CHARS  # one default, shared with a Searcher loaded without settings
    assert check_query("  補助対象  ", 5) == "補助対象"
    with pytest.raises(BadQuery, match="over the limit of 3"):
        check_query("補助対象", 3)
    question = ("学校保健安全法に基づく医療費援助は補助対象ですか" * 40)[:700]
    monkeypatch.setenv("REGKB_MAX_QUERY_CHARS", "800")
    s = Searcher.load(built_data_dir, max_query_chars=Settings().max_query_chars)
    assert s.search(question, k=1, mode="bm25").hits[0].citation == "Q&A（第2版）2-9"
    with pytest.raises(BadQuery, match="801 characters, over the limit of 800"):
        s.search("あ" * 801, mode="bm25")
