"""index/dense.py: exact and approximate (HNSW over float16 vectors) indexes give the clause rows of their best
passages, survive a save and load, and honour a filter."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from corpus.errors import IndexMismatch
from index.dense import APPROX_FACTORY, EF_SEARCH, EXACT_FACTORY, RESCORE_FILE, DenseBackend, factory_for
from index.vector_rows import NpyRows


def _vectors(n: int, dim: int = 32, seed: int = 3) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("factory", [EXACT_FACTORY, APPROX_FACTORY])
def test_rows_of_the_nearest_passages_after_a_round_trip(tmp_path: Path, factory: str) -> None:
    vectors = _vectors(3000)
    rows = np.arange(3000, dtype=np.int32) // 3  # three passages per clause row
    built = DenseBackend.build(vectors, rows, factory)
    meta = built.save(tmp_path)
    assert meta["factory"] == factory and meta["passages"] == 3000
    dense = DenseBackend.load(tmp_path, factory)
    if factory == APPROX_FACTORY:  # searched as wide as measured on real vectors (index/dense.py)
        assert faiss.downcast_index(dense.index).hnsw.efSearch == EF_SEARCH
    query = vectors[1234] + 0.05 * _vectors(1, seed=9)[0]
    query /= np.linalg.norm(query)
    exact = rows[np.argsort(-(vectors @ query))]
    want = list(dict.fromkeys(exact.tolist()))[:5]
    got = dense.rank(query, None, 5)
    assert [r for r, _ in got] == want  # 1,000 rows: ef 256 is as good as exact here
    # HNSW's float16 candidates are rescored with the saved float32 vectors: exact scores either way
    assert got[0][1] == pytest.approx(float((vectors[rows == want[0]] @ query).max()), abs=1e-6)
    allowed = np.zeros(1000, dtype=bool)
    allowed[[want[1], 7]] = True
    only = [r for r, _ in dense.rank(query, allowed, 5)]
    assert only[0] == want[1] and sorted(only) == sorted([want[1], 7])


def test_rescoring_orders_what_float16_rounding_ties(tmp_path: Path) -> None:
    # Two passages scoring 0.7004 and 0.7000 against e0: both first components round to the same float16
    # (0.70019531), so the graph's own scores tie; the float32 vectors saved beside it order them, with exact scores.
    rng = np.random.default_rng(5)
    others = np.zeros((400, 16), dtype=np.float32)
    others[:, 2:] = rng.normal(size=(400, 14))
    others /= np.linalg.norm(others, axis=1, keepdims=True)
    near = np.zeros((2, 16), dtype=np.float32)
    near[:, 0] = [0.7000, 0.7004]
    near[:, 1] = np.sqrt(1 - near[:, 0] ** 2)
    vectors = np.vstack([near, others])
    rows = np.arange(len(vectors), dtype=np.int32)
    query = np.zeros(16, dtype=np.float32)
    query[0] = 1.0
    raw = faiss.index_factory(16, APPROX_FACTORY, faiss.METRIC_INNER_PRODUCT)
    raw.train(vectors)
    raw.add(vectors)
    assert raw.search(query[None], 2)[0][0][0] == raw.search(query[None], 2)[0][0][1]  # the tie rescoring undoes
    meta = DenseBackend.build(vectors, rows, APPROX_FACTORY).save(tmp_path)
    assert meta["rescored"].startswith("float32") and (tmp_path / RESCORE_FILE).exists()
    dense = DenseBackend.load(tmp_path, APPROX_FACTORY)
    assert isinstance(dense.exact, NpyRows)
    got = dense.rank(query, None, 2)
    assert [r for r, _ in got] == [1, 0]
    assert [s for _, s in got] == pytest.approx([float(near[1] @ query), float(near[0] @ query)], abs=1e-7)
    (tmp_path / RESCORE_FILE).unlink()  # a build from before rescoring: the graph's own scores, still served
    assert [s for _, s in DenseBackend.load(tmp_path, APPROX_FACTORY).rank(query, None, 2)][0] == pytest.approx(
        0.70019531, abs=1e-6)


def test_exact_indexes_save_no_second_copy(tmp_path: Path) -> None:
    meta = DenseBackend.build(_vectors(100), np.arange(100, dtype=np.int32), EXACT_FACTORY).save(tmp_path)
    assert "rescored" not in meta and not (tmp_path / RESCORE_FILE).exists()


@pytest.mark.parametrize("compiled", [True, False])  # one pread loop without the GIL, or os.preadv row by row
def test_saved_rows_are_read_as_saved_and_a_damaged_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   compiled: bool) -> None:
    from index import vector_rows

    if not compiled:
        monkeypatch.setattr(vector_rows, "_gather_kernel", lambda: None)
    else:
        assert vector_rows._gather_kernel() is not None
    vectors = _vectors(50, dim=8)
    np.save(tmp_path / "v.npy", vectors)
    rows = NpyRows(tmp_path / "v.npy")
    assert len(rows) == 50 and rows.shape == (50, 8)
    ids = np.array([49, 0, 7, 7, 23])
    assert np.array_equal(rows.take(ids), vectors[ids])
    assert rows.take(np.zeros(0, dtype=np.int64)).shape == (0, 8)
    for bad in ([50], [3, -1]):
        with pytest.raises(IndexError):
            rows.take(np.array(bad))
    data = (tmp_path / "v.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(data[:-4])
    (tmp_path / "text.npy").write_bytes(b"not an array")
    for name in ("short.npy", "text.npy"):
        with pytest.raises(IndexMismatch, match="rebuild the index"):
            NpyRows(tmp_path / name)


def test_rescoring_vectors_of_another_index_are_refused(tmp_path: Path) -> None:
    DenseBackend.build(_vectors(300), np.arange(300, dtype=np.int32), APPROX_FACTORY).save(tmp_path)
    np.save(tmp_path / RESCORE_FILE, _vectors(299))
    with pytest.raises(IndexMismatch, match="rebuild the index"):
        DenseBackend.load(tmp_path, APPROX_FACTORY)


def test_the_recall_bench_reports_rescored_candidates() -> None:
    from eval.bench_baselines import faiss_exact_vs_hnsw

    vectors = _vectors(1500)
    queries = _vectors(20, seed=11)
    report = faiss_exact_vs_hnsw(vectors, queries, passage_rows=np.arange(1500, dtype=np.int32) // 2,
                                 ef_values=(1500,), want=40)
    row = report["hnsw"]["by_efSearch"][0]
    assert row["rescored"]["clause_recall@10"] == 1.0  # efSearch as large as the index: every neighbour found
    assert row["rescored"]["clause_recall@10"] >= row["clause_recall@10"]


def test_approximate_only_above_the_threshold() -> None:
    from index.dense import APPROX_THRESHOLD

    assert factory_for(APPROX_THRESHOLD - 1) == EXACT_FACTORY
    assert factory_for(APPROX_THRESHOLD) == APPROX_FACTORY


def test_float16_storage_halves_the_approximate_index(tmp_path: Path) -> None:
    vectors = _vectors(2000, dim=64)
    rows = np.arange(2000, dtype=np.int32)
    DenseBackend.build(vectors, rows, APPROX_FACTORY).save(tmp_path)
    fp16 = (tmp_path / "dense.faiss").stat().st_size
    DenseBackend.build(vectors, rows, "HNSW32,Flat").save(tmp_path)
    fp32 = (tmp_path / "dense.faiss").stat().st_size
    assert fp32 - fp16 >= 0.95 * vectors.size * 2  # two bytes saved per component; the graph is the same


def test_clause_recall_counts_a_tie_with_the_tenth_as_found() -> None:
    # worked by hand: exact top clauses 0, 1, 2 (scores 0.9, 0.8, 0.7); clause 3 scores 0.69995 (a tie at float16
    # precision), clause 4 0.5. Returning 3 for 2 misses a clause but not a neighbour as near; returning 4 misses both.
    from eval.bench_baselines import clause_recall

    scores = [0.9, 0.8, 0.7, 0.69995, 0.5]
    vectors = np.array([[s, np.sqrt(1 - s * s)] for s in scores], dtype=np.float64)
    queries = np.array([[1.0, 0.0], [1.0, 0.0]])
    exact = [[(0, 0), (1, 1), (2, 2)]] * 2
    got = [[(0, 0), (1, 1), (3, 3)], [(0, 0), (1, 1), (4, 4)]]
    r = clause_recall(queries, vectors, got, exact)
    assert r["clause_recall@10"] == r["clause_recall@50"] == round(2 / 3, 4)
    assert r["clause_recall@10_ties"] == round((3 / 3 + 2 / 3) / 2, 4)
    assert clause_recall(queries, vectors, got, exact, tie=1e-6)["clause_recall@10_ties"] == round(2 / 3, 4)


def _embedded_apart(data_dir: Path, out: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """What `eval.bench_real_vectors embed` leaves in ``out`` for ``data_dir``'s build, with random vectors."""
    from eval.bench_real_vectors import _passages

    texts, rows = _passages(data_dir)
    vectors = _vectors(len(texts), dim=384)
    np.save(out / "rows.npy", rows)
    vectors.tofile(out / "vectors.f32")
    return texts, rows, vectors


def test_the_real_vector_bench_serves_a_build_with_other_vectors(small_built_data_dir: Path, tmp_path: Path) -> None:
    # eval/bench_real_vectors.py serve: the build's keyword side as it is, the dense index over vectors embedded
    # apart (at the statute scale, an hour of embedding kept outside any build)
    from eval.bench_real_vectors import hybrid_copy
    from index.layout import current_build
    from index.search import Searcher

    texts, rows, vectors = _embedded_apart(small_built_data_dir, tmp_path)
    copy = hybrid_copy(small_built_data_dir, tmp_path, EXACT_FACTORY)
    build, source = current_build(copy), current_build(small_built_data_dir)
    assert build.name == source.name and (build / "clauses.jsonl").resolve() == (source / "clauses.jsonl").resolve()
    dense = DenseBackend.load(build, EXACT_FACTORY)
    assert dense.index.ntotal == len(texts)
    for i in (0, len(texts) // 2, len(texts) - 1):
        assert dense.rank(vectors[i], None, 1)[0][0] == rows[i]  # its own vector, not the build's
    assert Searcher.load(copy, check_corpus=False).search("補助率", mode="bm25").hits
    assert hybrid_copy(small_built_data_dir, tmp_path, EXACT_FACTORY) == copy  # built once
    assert (build / "bm25_reading").resolve() == (source / "bm25_reading").resolve()  # its columns: linked


def test_the_real_vector_bench_adds_dense_columns_to_an_older_build(small_built_data_dir: Path,
                                                                    tmp_path: Path) -> None:
    import shutil

    from eval.bench_real_vectors import hybrid_copy
    from index.keyword import HEAVY_COLUMNS, HEAVY_TOKENS, KeywordBackend
    from index.layout import current_build

    old = tmp_path / "old"
    shutil.copytree(small_built_data_dir, old, symlinks=True)
    for name in (HEAVY_COLUMNS, HEAVY_TOKENS):
        (current_build(old) / "bm25_reading" / name).unlink()
    _embedded_apart(old, tmp_path)
    build = current_build(hybrid_copy(old, tmp_path, EXACT_FACTORY))
    reading = build / "bm25_reading"
    assert not reading.is_symlink() and (reading / HEAVY_TOKENS).exists()
    assert (reading / "data.csc.index.npy").resolve() == (current_build(old) / "bm25_reading" / "data.csc.index.npy")
    fresh = KeywordBackend.load(current_build(small_built_data_dir), field="bm25_reading").retriever
    added = KeywordBackend.load(build, field="bm25_reading").retriever
    assert np.array_equal(added.columns, fresh.columns) and np.array_equal(added.column_of, fresh.column_of)


def test_an_approximate_build_rescored_ranks_as_exact_search(small_built_data_dir: Path, tmp_path: Path) -> None:
    # A whole build with the statute scale's index: the graph, the float32 vectors beside it, the keyword fields'
    # dense columns. At 2,481 passages efSearch covers the graph, so, rescored, it must rank as exact search does.
    import shutil

    from index.build import BuildConfig, build_index
    from index.keyword import HEAVY_TOKENS
    from index.search import Searcher

    data = tmp_path / "data"
    shutil.copytree(small_built_data_dir, data, symlinks=True)
    build = build_index(data, BuildConfig(faiss_factory=APPROX_FACTORY))
    manifest = __import__("json").loads((build / "manifest.json").read_text("utf-8"))
    assert manifest["dense"]["rescored"].startswith("float32") and manifest["dense"]["embedded"] == 0
    assert all((build / f / HEAVY_TOKENS).exists() for f in ("bm25", "bm25_heading", "bm25_lead", "bm25_reading"))
    approx, exact = Searcher.load(data), Searcher.load(small_built_data_dir)
    assert approx.dense.factory == APPROX_FACTORY and isinstance(approx.dense.exact, NpyRows)
    assert exact.dense.factory == EXACT_FACTORY
    for q in ("補助率は？", "がいさんばらいはできますか", "要綱の対象となる医療費助成", "システム改修はいつまでに完了させる必要がありますか"):
        a, b = approx.search(q, k=10), exact.search(q, k=10)
        assert [(h.doc, h.section) for h in a.hits] == [(h.doc, h.section) for h in b.hits], q
        assert a.probability == pytest.approx(b.probability, abs=1e-3)
        # exact scores, not the float16 graph's (~1e-3 off)
        assert [h.dense_score for h in a.hits] == pytest.approx([h.dense_score for h in b.hits], abs=1e-5)
