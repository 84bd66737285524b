"""The ONNX backend: onnxruntime + tokenizers + numpy, no torch in the process.

The graph (exported by onnx_export) already pools and normalises, so a forward pass is: tokenize with the model's
own tokenizer.json (truncated to its limit, padded to the longest text of the batch), run, done. The session uses
a fixed number of intra-op threads that sleep when idle (no spinning), so a query server on a shared box does not
burn the cores other processes need between requests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import EmbeddingModelError

from .base import Embedder, cpu_threads

log = logging.getLogger(__name__)


def session_options(threads: int | None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or cpu_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Passive wait: idle pool threads sleep instead of spinning against other processes on the same cores.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.log_severity_level = 3  # errors only: ORT's own warnings go to stderr, not to our logging
    return opts


# The export leaves Add + LayerNormalization apart (onnx_export._fuse); onnxruntime would fuse them back into its
# slower SkipLayerNormalization kernel when it loads the graph.
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


def open_session(model_file: Path, threads: int | None, optimized_file: Path | None = None) -> Any:
    """An onnxruntime session over ``model_file``; ``optimized_file`` saves the graph as it runs (for tests)."""
    import onnxruntime as ort

    opts = session_options(threads)
    if optimized_file is not None:
        opts.optimized_model_filepath = str(optimized_file)
    return ort.InferenceSession(str(model_file), opts, providers=["CPUExecutionProvider"],
                                disabled_optimizers=list(DISABLED_OPTIMIZERS))


class OnnxEmbedder(Embedder):
    """One exported model file (fp32 or int8) in an onnxruntime session.

    Two tokenisers give the same ids: queries use the lean one (index/embedding/lean_tokenizer.py, ~75 MiB and
    0.5 s to load); passages (builds: long texts in large batches) use the ``tokenizers`` library, loaded on the first
    passage batch (~290 MiB, faster on long texts). A query server never loads the second."""

    def __init__(self, folder: Path, info: dict[str, Any], backend: str, name: str,
                 threads: int | None = None) -> None:
        from .lean_tokenizer import LeanTokenizer

        self.backend = backend
        folder = Path(folder)
        model_file = folder / info["files"][backend]
        max_len = int(info["max_seq_length"])
        try:
            self._session = open_session(model_file, threads)
            self._lean = LeanTokenizer(folder / "tokenizer.json", max_len, int(info["pad_id"]))
        except Exception as exc:  # noqa: BLE001 - re-raised with the file named
            raise EmbeddingModelError(f"cannot load the ONNX embedding model {model_file}: {exc}",
                                      f"delete {folder} to export it again, or set REGKB_EMBEDDING_BACKEND=torch") \
                from exc
        self._full_tokenizer: Any = None
        self._full_lock = threading.Lock()
        self._model_file = model_file
        self._threads = self._session.get_session_options().intra_op_num_threads
        self._batch_session: Any = None  # one intra-op thread, run by several build threads at once
        self._max_len, self._pad_id = max_len, int(info["pad_id"])
        self.fidelity = (info.get("fidelity") or {}).get(backend)
        super().__init__(folder, name, int(info["dim"]), max_len, info["query_prompt"], info["passage_prompt"])
        log.info("embedding model %s loaded (%s, %s threads) from %s", name, backend,
                 self._session.get_session_options().intra_op_num_threads, model_file)

    @property
    def tokenizer(self) -> Any:
        """The ``tokenizers`` object (loaded on first use)."""
        with self._full_lock:
            if self._full_tokenizer is None:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(self._path / "tokenizer.json"))
                tok.no_padding()
                tok.enable_truncation(self._max_len)
                tok.enable_padding(pad_id=self._pad_id)
                self._full_tokenizer = tok
            return self._full_tokenizer

    @property
    def lean_tokenizer(self) -> Any:
        return self._lean

    def _token_counts(self, texts: list[str]) -> list[int]:
        return [sum(e.attention_mask) for e in self.tokenizer.encode_batch(texts)]  # padding is not counted

    def _forward(self, texts: list[str], passages: bool = False, session: Any = None) -> np.ndarray:
        if passages:
            encs = self.tokenizer.encode_batch(texts)  # Rust, immutable once padding is set: safe on any thread
            ids = np.array([e.ids for e in encs], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        else:
            ids, mask = self._lean.encode_batch(texts)
        return (session or self._session).run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def _passage_tokens(self) -> int:
        """One passage a batch. In turns on 256 passages of the default corpus (2 cores, AVX2): int8 17.1 → 22.5 and
        fp32 11.6 → 16.3 passages/s against batches of 2,048 tokens (512- and 1,024-token batches: as one text),
        and a passage's vector no longer depends on the passages beside it: dynamic int8 quantisation scales a batch's
        activations by the whole batch, so adding a document moved other clauses' vectors (cosine 0.996–0.999)."""
        return 1

    def _forward_threaded(self, batches: list[list[str]], passages: bool, workers: int) -> Iterator[np.ndarray]:
        """A build's batches on as many threads as the session has intra-op threads, all running one session of one
        intra-op thread (onnxruntime runs it on the calling thread, without the GIL): no partner thread to wait for
        at every operator. int8 on 384 passages of the default corpus, in turns: 13.8 → 15.8 passages/s (2 cores,
        AVX2, batches of 2,048 tokens)."""
        with self._full_lock:  # the lazy loads' lock: two builds in one process open one batch session
            if self._batch_session is None:
                self._batch_session = open_session(self._model_file, 1)
        session = self._batch_session
        return self._threaded(batches, lambda texts: self._forward(texts, passages, session), workers)
