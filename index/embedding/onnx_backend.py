"""The ONNX backend: onnxruntime + tokenizers + numpy, no torch in the process.

The graph (exported by onnx_export) already pools and normalises, so a forward pass is: tokenize with the model's
own tokenizer.json (truncated to its limit, padded to the longest text of the batch), run, done. The session uses
a fixed number of intra-op threads that sleep when idle (no spinning), so a query server on a shared box does not
burn the cores other processes need between requests.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import EmbeddingModelError

from .base import Embedder, cpu_threads

log = logging.getLogger(__name__)

_VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def cpu_has_vnni() -> bool:
    """Whether int8 dot products are fast here (x86 VNNI/AMX). Elsewhere int8 ONNX can be slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return any(flag in flags for flag in _VNNI_FLAGS)
    except OSError:
        pass
    return False


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


class OnnxEmbedder(Embedder):
    """One exported model file (fp32 or int8) in an onnxruntime session."""

    def __init__(self, folder: Path, info: dict[str, Any], backend: str, name: str,
                 threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.backend = backend
        folder = Path(folder)
        model_file = folder / info["files"][backend]
        try:
            self._session = ort.InferenceSession(str(model_file), session_options(threads),
                                                 providers=["CPUExecutionProvider"])
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # noqa: BLE001 - re-raised with the file named
            raise EmbeddingModelError(f"cannot load the ONNX embedding model {model_file}: {exc}",
                                      f"delete {folder} to export it again, or set REGKB_EMBEDDING_BACKEND=torch") \
                from exc
        max_len = int(info["max_seq_length"])
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_len)
        self._tokenizer.enable_padding(pad_id=int(info["pad_id"]))
        self.fidelity = (info.get("fidelity") or {}).get(backend)
        super().__init__(folder, name, int(info["dim"]), max_len, info["query_prompt"], info["passage_prompt"])
        log.info("embedding model %s loaded (%s, %s threads) from %s", name, backend,
                 self._session.get_session_options().intra_op_num_threads, model_file)

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    def _forward(self, texts: list[str]) -> np.ndarray:
        encs = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        return self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
