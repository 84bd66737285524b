"""The row facts a build keeps (index/rowfacts.py) are the facts a searcher would learn row by row, and a build
without them (older, or damaged) still searches the same."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from index.rowfacts import RowFacts

QUERIES = ["補助金の交付申請はいつまでに行う必要がありますか", "補助率は何分の何ですか", "改修費が1000万円のときの補助額",
           "難病法6条", "がいさんばらいはできますか"]


def _learnt(searcher) -> RowFacts:  # type: ignore[no-untyped-def]
    facts = RowFacts(searcher.rows, searcher._facts.row_kind, searcher._facts.is_parent)
    facts.learn_all()
    return facts


def test_kept_facts_are_the_learnt_ones(searcher) -> None:  # type: ignore[no-untyped-def]
    kept = RowFacts.load(searcher.build_dir, searcher.rows, searcher._facts.row_kind, searcher._facts.is_parent)
    assert kept._kind_ids is not None, "the build wrote no row facts"
    learnt = _learnt(searcher)
    every = np.arange(len(searcher.rows))
    assert np.array_equal(kept.cue_bits(every), learnt.cue_bits(every))
    assert [kept.predicate(r) for r in every] == [learnt.predicate(r) for r in every]
    assert [kept.number_runs(r) for r in every] == [learnt.number_runs(r) for r in every]
    assert kept.kinds(every).tolist() == [c.kind for c in searcher.rows]
    # the facts carry information: some rows state amounts, some end on a predicate, some have numbers
    assert (kept.cue_bits(every) > 1).any()
    assert any(kept.predicate(r) for r in every)
    assert any(kept.number_runs(r) for r in every)


def _copy_build(searcher, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    build = tmp_path / searcher.build_dir.name
    shutil.copytree(searcher.build_dir, build)
    return build


def test_a_build_without_facts_learns_them(searcher, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    build = _copy_build(searcher, tmp_path)
    for f in build.glob("rowfacts.*"):
        f.unlink()
    with caplog.at_level(logging.INFO, logger="index.rowfacts"):
        facts = RowFacts.load(build, searcher.rows, searcher._facts.row_kind, searcher._facts.is_parent)
    assert "learnt as queries reach the rows" in caplog.text
    assert facts._kind_ids is None and not facts._cue_bits.any()  # nothing known until asked
    _same_candidates(searcher, facts)


def test_facts_of_another_length_are_not_trusted(searcher, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    build = _copy_build(searcher, tmp_path)
    np.save(build / "rowfacts.cues.npy", np.zeros(3, dtype=np.uint8))
    with caplog.at_level(logging.WARNING, logger="index.rowfacts"):
        facts = RowFacts.load(build, searcher.rows, searcher._facts.row_kind, searcher._facts.is_parent)
    assert "learnt on first use" in caplog.text
    _same_candidates(searcher, facts)


def _same_candidates(searcher, facts: RowFacts) -> None:  # type: ignore[no-untyped-def]
    from index.features import candidates

    for q in QUERIES:
        r, _, _ = searcher.retrieve(q)
        got = candidates(q, r, facts, searcher.keyword, searcher.heading, searcher.lead)
        want = candidates(q, r, searcher._facts, searcher.keyword, searcher.heading, searcher.lead)  # kept facts
        assert got.rows == want.rows
        assert np.array_equal(got.x, want.x, equal_nan=True), q
