"""The clause graph (index/graph.py): written by the build as graph.json, loaded by the server next to the searcher;
a build made before graph.json existed still serves (the graph is computed on load, with a warning)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from corpus.collection import Corpus
from corpus.errors import IndexMismatch
from corpus.model import Clause, Document, ParsedDocument
from corpus.refs import resolve_refs
from corpus.store import Store
from index.graph import GRAPH_FILE, ClauseGraph, GraphData, compute_graph
from index.layout import current_build

# -- a hand-made corpus: every kind of link ------------------------------------------------------------------------


def _doc(doc_id: str, kind: str, label: str, edition: int = 1) -> Document:
    return Document(id=doc_id, title=label, kind=kind, label=label, edition=edition)  # type: ignore[arg-type]


def _clause(doc: Document, section: str, kind: str = "clause", parent: str | None = None,
            refs: tuple[str, ...] = ()) -> Clause:
    return Clause(doc_id=doc.id, edition=doc.edition, section=section, kind=kind,  # type: ignore[arg-type]
                  parent=parent, heading=f"{doc.label} {section}", text="…", citation=f"{doc.label} {section}",
                  refs=refs)


def hand_made() -> Corpus:
    qa1, qa2 = _doc("a-qa", "qa", "Q&A", 1), _doc("a-qa", "qa", "Q&A", 2)
    law = _doc("l-law", "law", "法")
    youkou = _doc("y-youkou", "youkou", "要綱")
    return Corpus([
        ParsedDocument(qa1, (_clause(qa1, "1-1", "item", refs=("a-qa#1-1",)),), ""),  # no edition: the latest
        ParsedDocument(qa2, (_clause(qa2, "1-1", "item", refs=("y-youkou@1#４（１）ア", "l-law@1#第9条第2項",
                                                               "y-youkou@1#9", "y-youkou@x#4")),
                             _clause(qa2, "1-2", "item", refs=("l-law@1#第9条第2項", "y-youkou#4"))), ""),
        ParsedDocument(law, (_clause(law, "第9条", "article"),
                             _clause(law, "第9条第1項", "paragraph", parent="第9条"),
                             _clause(law, "第9条第2項", "paragraph", parent="第9条"),
                             _clause(law, "第9条第2項第1号", "law_item", parent="第9条第2項")), ""),
        ParsedDocument(youkou, (_clause(youkou, "4"), _clause(youkou, "4(1)", parent="4"),
                                _clause(youkou, "4(1)ア", parent="4(1)"), _clause(youkou, "5")), ""),
    ])


def _keys(items: list[Clause]) -> list[str]:
    return [c.key for c in items]


def test_links_of_a_hand_made_corpus() -> None:
    corpus = hand_made()
    graph = ClauseGraph(corpus)
    assert ClauseGraph.__module__ == "index.graph"  # the index layer's, not the routes'
    item = corpus.clause("a-qa", "1-1", 2)
    refs = graph.refs(item)
    # full-width resolved; what names no clause comes back as written
    assert [r if isinstance(r, str) else r.key for r in refs] == [
        "y-youkou@1#4(1)ア", "l-law@1#第9条第2項", "y-youkou@1#9", "y-youkou@x#4"]
    assert graph.refs(corpus.clause("a-qa", "1-1", 1))[0] is item  # no edition: the latest
    # reverse references: once each, in corpus order; a 項 cited is listed on its article too
    assert _keys(graph.cited_by(corpus.clause("l-law", "第9条第2項"))) == ["a-qa@2#1-1", "a-qa@2#1-2"]
    assert _keys(graph.cited_by(corpus.clause("l-law", "第9条"))) == ["a-qa@2#1-1", "a-qa@2#1-2"]
    assert _keys(graph.cited_by(corpus.clause("y-youkou", "4"))) == ["a-qa@2#1-2"]
    assert _keys(graph.cited_by(item)) == ["a-qa@1#1-1"]
    assert graph.cited_by(corpus.clause("y-youkou", "5")) == []
    # children, parent, outline depth, neighbours
    article = corpus.clause("l-law", "第9条")
    assert _keys(graph.children(article)) == ["l-law@1#第9条第1項", "l-law@1#第9条第2項"]
    leaf = corpus.clause("l-law", "第9条第2項第1号")
    assert graph.parent(article) is None
    assert graph.parent(leaf).key == "l-law@1#第9条第2項"  # type: ignore[union-attr]
    assert [graph.depth(c) for c in corpus.get("y-youkou").clauses] == [0, 1, 2, 0]
    assert graph.depth(leaf) == 2
    assert graph.neighbour(article, -1) is None
    assert graph.neighbour(article, 1).section == "第9条第1項"  # type: ignore[union-attr]
    assert graph.neighbour(leaf, 1) is None
    assert graph.clause("y-youkou", 1, "4(1)ア") is corpus.clause("y-youkou", "4(1)ア")
    assert graph.clause("y-youkou", 1, "4（1）ア") is None  # a key is exact; resolve() takes any spelling
    assert graph.resolve("y-youkou@1#4（1）ア") is corpus.clause("y-youkou", "4(1)ア")



def test_a_section_that_repeats_links_by_key_to_the_last() -> None:
    """Sections are unique within an edition in practice; if one repeats, links by key name its last clause (as the
    dictionary of keys the pages were built from did), and each clause keeps its own parent and references."""
    y = _doc("y-youkou", "youkou", "要綱")
    first, again = _clause(y, "4", refs=("y-youkou@1#5",)), _clause(y, "4", parent="5")
    corpus = Corpus([ParsedDocument(y, (first, _clause(y, "4(1)", parent="4"), again, _clause(y, "5")), "")])
    graph = ClauseGraph(corpus)
    assert graph.clause("y-youkou", 1, "4") is again
    assert _keys(graph.children(first)) == _keys(graph.children(again)) == ["y-youkou@1#4(1)"]
    assert graph.parent(first) is None and graph.parent(again).section == "5"  # type: ignore[union-attr]
    assert graph.depth(first) == 0 and graph.depth(again) == 1
    assert [r.section for r in graph.refs(first) if isinstance(r, Clause)] == ["5"] and graph.refs(again) == []
    # reverse references come from the clause a key names (the last), as they did when built from keys
    assert graph.cited_by(corpus.clause("y-youkou", "5")) == []

def test_the_json_form_round_trips_and_is_checked(tmp_path: Path) -> None:
    corpus = hand_made()
    data = compute_graph(corpus)
    text = json.dumps(data.to_json())
    again = GraphData.from_json(json.loads(text))
    assert again.same_as(data) and again.to_json() == json.loads(text)
    assert data.summary()["refs_not_found"] == 2 and data.summary()["clauses"] == 11
    broken = json.loads(text)
    broken["cited_by"]["ids"][0] = 99
    with pytest.raises(ValueError, match="does not exist"):
        GraphData.from_json(broken)
    with pytest.raises(ValueError, match="format"):
        GraphData.from_json({**json.loads(text), "format": 99})
    # a graph for other clauses than the build's is refused, with the way out
    (tmp_path / GRAPH_FILE).write_text(json.dumps({**json.loads(text), "editions": [["a-qa@1", 11]]}), "utf-8")
    with pytest.raises(IndexMismatch) as info:
        ClauseGraph.load(tmp_path, {"graph": {"file": GRAPH_FILE}}, corpus)
    assert "regkb build" in (info.value.hint or "")
    (tmp_path / GRAPH_FILE).write_text(text[:50], "utf-8")  # cut short
    with pytest.raises(IndexMismatch):
        ClauseGraph.load(tmp_path, {"graph": {"file": GRAPH_FILE}}, corpus)


# -- the real build ------------------------------------------------------------------------------------------------


def test_the_build_writes_the_graph_it_would_compute(searcher,  # type: ignore[no-untyped-def]
                                                     built_data_dir: Path) -> None:
    build = current_build(built_data_dir)
    manifest = json.loads((build / "manifest.json").read_text("utf-8"))
    info = manifest["graph"]
    assert info["file"] == GRAPH_FILE and (build / GRAPH_FILE).is_file() and "graph_s" in manifest["timings"]
    assert info["clauses"] == manifest["counts"]["clauses"] and info["refs"] > 0 and info["cited_by"] > 0
    written = GraphData.from_json(json.loads((build / GRAPH_FILE).read_text("utf-8")))
    assert written.same_as(compute_graph(searcher.corpus))  # the served corpus
    assert written.same_as(compute_graph(resolve_refs(Store(built_data_dir).load())))  # the stored one
    graph = ClauseGraph.load(build, manifest, searcher.corpus, searcher.notes)
    corpus = searcher.corpus
    # law citations both ways: subsidy clause -> article, article -> the subsidy clauses citing it
    assert "425AC0000000027@1#別表40の項" in [r.key for r in graph.refs(corpus.clause("hojokin-qa", "2-9"))
                                            if isinstance(r, Clause)]
    assert "jisshi-youkou@1#5ウ" in _keys(graph.cited_by(corpus.clause("425AC0000000027", "第9条")))
    assert graph.depth(corpus.clause("jisshi-youkou", "4(2)エ")) == 2


@pytest.mark.slow
def test_a_build_without_the_graph_still_serves(built_data_dir: Path, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    from api.app import create_app
    from api.settings import Settings

    old = tmp_path / "old"
    shutil.copytree(built_data_dir, old)
    build = current_build(old)
    manifest = json.loads((build / "manifest.json").read_text("utf-8"))
    del manifest["graph"]  # as a build made before graph.json existed
    (build / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    (build / GRAPH_FILE).unlink()
    pages = ["/documents/jisshi-youkou", "/documents/hojokin-qa/clauses/2-9",
             "/documents/425AC0000000027/clauses/第9条", "/documents/jisshi-youkou/clauses/4(2)エ",
             "/documents/425AC0000000027/clauses/別表40の項",
             "/documents/hojokin-qa/clauses/1-1?edition=1"]
    served: dict[str, list[object]] = {}
    for name, data_dir in (("new", built_data_dir), ("old", old)):
        with caplog.at_level(logging.WARNING, logger="index.graph"):
            caplog.clear()
            with TestClient(create_app(Settings(data_dir=data_dir))) as client:
                assert client.get("/health").json()["status"] == "ok"
                served[name] = [client.get(p).json() for p in pages]
                query = {"q": "学校保健安全法の医療費援助も補助対象？", "mode": "bm25"}
                hits = client.get("/search", params=query).json()["hits"]
                served[name].append([(h["citation"], h["refs"]) for h in hits])
        warned = [r.getMessage() for r in caplog.records if "no clause graph" in r.getMessage()]
        assert bool(warned) == (name == "old")
    assert served["old"] == served["new"]
    clause = served["new"][2]
    assert "jisshi-youkou@1#5ウ" in [r["key"] for r in clause["cited_by"]]  # type: ignore[index]
