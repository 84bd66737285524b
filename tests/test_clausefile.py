"""A served build reads its clauses on demand (index/clausefile.py): the same clauses, rows and row facts as reading
them all at load; a build without offsets still loads; a damaged clauses.jsonl says so instead of crashing."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from corpus.collection import Corpus
from corpus.errors import ClauseNotFound, IndexMismatch
from corpus.model import Clause, Document, LazyParsedDocument, ParsedDocument
from index.clausefile import (EDITIONS_FILE, KEYS_FILE, OFFSETS_FILE, ClauseFile, ClauseRows, load_clauses,
                              write_clauses, _scan)
from index.graph import ClauseGraph
from index.layout import current_build
from index.search import RowArrays, Searcher


def _eager(build: Path) -> tuple[Corpus, list[Clause]]:
    """What Searcher.load built before clauses were read on demand: every clause parsed at load."""
    docs = [Document.from_json(d) for d in json.loads((build / "documents.json").read_text("utf-8"))]
    by_edition: dict[str, list[Clause]] = {d.key: [] for d in docs}
    with open(build / "clauses.jsonl", encoding="utf-8") as f:
        for line in f:
            c = Clause.from_json(json.loads(line))
            by_edition[f"{c.doc_id}@{c.edition}"].append(c)
    corpus = Corpus(ParsedDocument(d, tuple(by_edition[d.key]), "") for d in docs)
    by_key = {c.key: c for c in corpus.all_clauses()}
    with open(build / "rows.jsonl", encoding="utf-8") as f:
        rows = [by_key[json.loads(line)["key"]] for line in f]
    return corpus, rows


def _clause_or_error(corpus: Corpus, doc: str, section: str, edition: int) -> Clause | str:
    try:
        return corpus.clause(doc, section, edition)
    except ClauseNotFound as e:
        return str(e)


def _same_as_eager(s: Searcher) -> None:
    corpus, rows = _eager(s.build_dir)
    lazy = s.corpus
    assert lazy.doc_ids == corpus.doc_ids and len(lazy) == len(corpus)
    for doc in corpus.doc_ids:
        for p, q in zip(corpus.editions(doc), lazy.editions(doc), strict=True):
            assert isinstance(q, LazyParsedDocument) and isinstance(q, ParsedDocument)
            assert q.document == p.document and q.clause_count == len(p.clauses)
            assert q.clauses == p.clauses
        assert lazy.get(doc).document == corpus.get(doc).document
    assert list(lazy.all_clauses()) == list(corpus.all_clauses())
    c = rows[len(rows) // 2]
    for c in rows[:: max(1, len(rows) // 200)]:  # by section, the edition unread, as from the parsed edition
        for section in (c.section, c.parent):
            if section:  # a parent section need not be a clause: then both raise the same error
                assert _clause_or_error(lazy, c.doc_id, section, c.edition) == _clause_or_error(corpus, c.doc_id,
                                                                                                 section, c.edition)
    assert len(s.rows) == len(rows) and list(s.rows) == rows
    assert s.rows[-1] == rows[-1] and s.rows[3:7] == rows[3:7]
    want = RowArrays.of_clauses(rows, corpus)
    assert list(s._row_doc) == list(want.doc) and list(s._row_kind) == list(want.kind)
    assert np.array_equal(s._row_edition, want.edition) and s._row_edition.dtype == want.edition.dtype
    assert np.array_equal(s._facts.is_parent, want.is_parent) and want.is_parent.any()


def test_lazy_corpus_and_rows_are_the_eager_ones(searcher: Searcher) -> None:
    build = searcher.build_dir
    assert (build / OFFSETS_FILE).exists() and (build / EDITIONS_FILE).exists()
    _same_as_eager(searcher)


def _copy(built_data_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    shutil.copytree(built_data_dir, data)
    return data, current_build(data)


def _strip_offsets(build: Path) -> None:
    """Make the build look like one written before the offsets existed."""
    (build / OFFSETS_FILE).unlink()
    (build / EDITIONS_FILE).unlink()
    (build / KEYS_FILE).unlink()
    lines = (build / "rows.jsonl").read_text("utf-8").splitlines()
    (build / "rows.jsonl").write_text("".join(json.dumps({"key": json.loads(x)["key"]}, ensure_ascii=False) + "\n"
                                              for x in lines), "utf-8")


def test_a_build_without_offsets_loads_by_one_scan(built_data_dir: Path, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    data, build = _copy(built_data_dir, tmp_path)
    docs = [Document.from_json(d) for d in json.loads((build / "documents.json").read_text("utf-8"))]
    written, table = load_clauses(build, docs)
    _strip_offsets(build)
    with caplog.at_level(logging.WARNING, logger="index.clausefile"):
        scanned, scanned_table = load_clauses(build, docs)
    assert any("no clause offsets" in r.getMessage() for r in caplog.records)
    # the scan finds exactly what the build wrote
    assert np.array_equal(scanned.offsets, written.offsets) and np.array_equal(scanned.starts, written.starts)
    for name in ("clause", "edition", "is_parent"):
        assert np.array_equal(getattr(scanned_table, name), getattr(table, name))
    s = Searcher.load(data)
    _same_as_eager(s)
    assert s.search("指定難病", k=3, mode="bm25").hits


def test_the_scan_reads_escaped_and_unusual_fields(tmp_path: Path) -> None:
    docs = [Document('we"ird\\id', "t", "qa", "Q"), Document("b", "t", "law", "B", edition=2),
            Document("empty", "t", "qa", "E")]
    clauses = [Clause(docs[0].id, 1, 'sec"1"\\', "item", None, "h", "本文\n二行目", "c"),
               Clause(docs[0].id, 1, "2", "item", 'sec"1"\\', "", "x", "c"),
               Clause("b", 2, "第1条", "article", None, "", "y", "c"),
               Clause("b", 2, "第1条", "article", None, "", "the second with the same key", "c")]
    parsed = [ParsedDocument(docs[0], tuple(clauses[:2]), ""), ParsedDocument(docs[1], tuple(clauses[2:]), ""),
              ParsedDocument(docs[2], (), "")]
    write_clauses(tmp_path, parsed, [clauses[0], clauses[1], clauses[3]])
    assert load_clauses(tmp_path, docs)[0]._cached == 4  # a build that fits in the cache is parsed at load
    file, table = load_clauses(tmp_path, docs, preload=False)
    shutil.copy(tmp_path / KEYS_FILE, tmp_path.parent / "keys.npy")
    _strip_offsets(tmp_path)
    offsets, starts, hashes, row_clause, parents = _scan(tmp_path / "clauses.jsonl", docs, [c.key for c in
                                                                                       (clauses[0], clauses[1],
                                                                                        clauses[3])])
    assert offsets.tolist() == file.offsets.tolist() and starts.tolist() == file.starts.tolist() == [0, 2, 4, 4]
    assert row_clause.tolist() == table.clause.tolist() == [0, 1, 3]  # a repeated key names its last clause
    assert hashes.tolist() == np.load(tmp_path.parent / "keys.npy").tolist()
    assert parents == [None, 'sec"1"\\', None]
    assert table.is_parent.tolist() == [True, False, False]
    rows = ClauseRows(file, table.clause)
    assert list(rows) == [clauses[0], clauses[1], clauses[3]]
    lazy = file.corpus()
    # found by section without parsing the edition: the first clause of a repeated section, as ParsedDocument.clause
    assert lazy.clause("b", "第1条") == clauses[2] and lazy.clause(docs[0].id, 'sec"1"\\') == clauses[0]
    assert not file._cache
    with pytest.raises(ClauseNotFound):
        lazy.clause("b", "第2条")
    assert lazy.get("empty").clauses == () and lazy.get("b").clauses == tuple(clauses[2:])
    assert lazy.get("b").clause("第1条") == clauses[2] and file._cache  # now from the parsed edition


def test_the_cache_is_bounded_and_answers_the_same(searcher: Searcher) -> None:
    docs = list(searcher.corpus)
    build = searcher.build_dir
    small = ClauseFile(build / "clauses.jsonl", _offsets(build), _starts(build), [p.document for p in docs],
                       np.load(build / KEYS_FILE), cache_clauses=10)
    lazy = small.corpus()
    for p in docs:
        assert lazy.get(p.document.id, p.document.edition).clauses == p.clauses
        assert small._cached <= max(10, p.clause_count) and len(small._cache) >= 1
    assert len(small._cache) <= 2
    # a clause alone, its edition not parsed
    small._cache.clear()
    small._cached = 0
    assert small.clause(len(small) - 1) == list(searcher.corpus.all_clauses())[-1]
    assert not small._cache
    rows = ClauseRows(small, searcher.rows.ids, cache_rows=5)  # type: ignore[attr-defined]
    want = list(searcher.rows)
    for _ in range(2):
        assert [rows[i] for i in range(0, len(rows), 7)] == want[::7] and len(rows._cache) <= 5
    assert rows[-1] == want[-1] and rows[np.int64(2)] == want[2] and rows[1:4] == want[1:4]
    with pytest.raises(IndexError):
        rows[len(rows)]  # noqa: B018


def _lazy_and_eager_graphs(searcher: Searcher) -> tuple[ClauseFile, ClauseGraph, ClauseGraph]:
    """(a clause file with a small cache, the clause graph over it as a served build reads it, the graph over the
    corpus in memory)."""
    build = searcher.build_dir
    file = ClauseFile(build / "clauses.jsonl", _offsets(build), _starts(build), [p.document for p in searcher.corpus],
                      np.load(build / KEYS_FILE), cache_clauses=10)
    return (file, ClauseGraph.load(build, searcher.manifest, file.corpus()),
            ClauseGraph.load(build, searcher.manifest, searcher.corpus))


def test_the_graph_reads_a_hit_alone_not_its_edition(searcher: Searcher) -> None:
    # the API looks up every hit in the clause graph: at statute scale, parsing the hit's whole law each time (the
    # cache holds a few laws) cost most of a request
    docs = list(searcher.corpus)
    file, graph, eager = _lazy_and_eager_graphs(searcher)
    want = [c for p in docs for c in p.clauses]
    for c in want:  # positions from the clause file's key index: the last clause of a section, as a dict says
        e = graph._edition_of[(c.doc_id, c.edition)]
        assert graph._local(e, c.section) == eager._local(e, c.section)
    assert all(m is None for m in graph._sections)  # no section map of any edition kept
    file._cache.clear()
    file._cached = 0
    for c in want[::5]:
        got = graph.clause(c.doc_id, c.edition, c.section)
        assert got == eager.clause(c.doc_id, c.edition, c.section)
        assert graph.refs(got) == eager.refs(eager.clause(c.doc_id, c.edition, c.section))
    assert not file._cache  # no edition was parsed for them
    assert docs[0].clause_at(0) == docs[0].clauses[0] == file.corpus().get(docs[0].document.id).clause_at(0)


def test_the_graph_keeps_ids_by_key_within_its_bound(searcher: Searcher, monkeypatch: pytest.MonkeyPatch) -> None:
    # a hit's id is found by key for the hit, then again for its references: kept, not read and parsed twice
    from index import graph as graph_module

    monkeypatch.setattr(graph_module, "PARSED_CLAUSES", 7)
    docs = list(searcher.corpus)
    file, graph, eager = _lazy_and_eager_graphs(searcher)
    want = [c for p in docs for c in p.clauses][::3]
    for _ in range(2):  # the second pass finds some ids kept, the rest read again: the same ids
        for c in want:
            assert graph._id(c.doc_id, c.edition, c.section) == eager._id(c.doc_id, c.edition, c.section)
            assert len(graph._ids) <= 7
    assert graph._id(want[0].doc_id, want[0].edition, "no such section") is None
    reads = []
    monkeypatch.setattr(graph, "_local", lambda e, s: reads.append((e, s)))
    c = want[-1]
    assert graph._id(c.doc_id, c.edition, c.section) == eager._id(c.doc_id, c.edition, c.section) and not reads


def _offsets(build: Path) -> np.ndarray:
    return np.load(build / OFFSETS_FILE, allow_pickle=False)


def _starts(build: Path) -> np.ndarray:
    return np.load(build / EDITIONS_FILE, allow_pickle=False)


@pytest.mark.parametrize("offsets", [True, False], ids=["offsets", "scan"])
def test_a_truncated_clauses_file_is_refused_at_load(built_data_dir: Path, tmp_path: Path, offsets: bool) -> None:
    data, build = _copy(built_data_dir, tmp_path)
    if not offsets:
        _strip_offsets(build)
    path = build / "clauses.jsonl"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 500])
    with pytest.raises(IndexMismatch, match="truncated") as e:
        Searcher.load(data)
    assert "regkb build" in str(e.value)


def test_offsets_of_another_file_are_refused_at_load(built_data_dir: Path, tmp_path: Path) -> None:
    data, build = _copy(built_data_dir, tmp_path)
    path = build / "clauses.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]  # same size, the offsets no longer fit
    path.write_bytes(b"".join(lines))
    if len(lines[0]) != len(lines[1]):
        with pytest.raises(IndexMismatch, match="first clause|not increasing|offsets"):
            Searcher.load(data)


def test_a_damaged_line_says_so(built_data_dir: Path, tmp_path: Path) -> None:
    data, build = _copy(built_data_dir, tmp_path)
    path = build / "clauses.jsonl"
    raw = bytearray(path.read_bytes())
    offsets = _offsets(build)
    i = len(offsets) - 2  # the last clause: its line is garbled, its length kept
    assert i not in _starts(build)  # not an edition's first line, which the load checks
    start, end = int(offsets[i]), int(offsets[i + 1])
    raw[start + 1: end - 1] = b"#" * (end - start - 2)
    path.write_bytes(bytes(raw))
    # a build that fits in the cache is parsed at load: refused there
    with pytest.raises(IndexMismatch, match=f"line {i + 1} is not a clause.*regkb build"):
        Searcher.load(data)
    # a bigger one checks sizes and each edition's first line at load, the other lines when they are read
    docs = [Document.from_json(d) for d in json.loads((build / "documents.json").read_text("utf-8"))]
    file, table = load_clauses(build, docs, preload=False)
    lazy = file.corpus()
    with pytest.raises(IndexMismatch, match=f"line {i + 1} is not a clause"):
        lazy.get(lazy.doc_ids[-1]).clauses  # noqa: B018
    with pytest.raises(IndexMismatch, match="regkb build"):
        list(lazy.all_clauses())
    rows = ClauseRows(file, table.clause)
    if (table.clause == i).any():  # a search row whose line is damaged: the same error, not a JSONDecodeError
        with pytest.raises(IndexMismatch):
            rows[int(np.flatnonzero(table.clause == i)[0])]  # noqa: B018
    assert rows[0] == file.clause(int(table.clause[0]))  # the rest still reads
