"""What every embedding backend offers: prefixes, L2-normalised float32 vectors, a query cache, micro-batching.

A backend (torch_backend, onnx_backend) implements only ``_forward``: a list of already-prefixed texts in, one
L2-normalised row per text out. Everything else (prompts, length-sorted passage batches, the per-instance LRU cache
of single queries, the micro-batching queue) lives here once.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

QUERY_CACHE_SIZE = 1024
PASSAGE_BATCH = 32
# A build's passages go in batches of about this many tokens (texts × longest text): short passages in large
# batches, long ones in small. Against fixed batches of 32: 1.3× the passages per second in bf16 on this corpus
# (eval/bench_query_path.py). 4,096 against 8,192, taking turns on 512 passages, three rounds each: bf16 +6 % (statute
# passages 99-107 vs 94-101 /s, bundled 82-85 vs 79-80), int8 ONNX +9 % (53 vs 48, 43 vs 40); 2,048 was slower again.
# A backend that runs k batches at once (``Embedder._parallel_batches``: torch and ONNX on k threads of one
# intra-op thread each) makes them of PASSAGE_TOKENS / k tokens: as many tokens in flight.
PASSAGE_TOKENS = 4096
MAX_PASSAGE_BATCH = 256
BACKENDS = ("auto", "onnx-int8", "onnx-fp32", "torch", "torch-bf16")


@dataclass(frozen=True, slots=True)
class EncoderConfig:
    """How to find and run the embedding model; built from the one Settings object and passed down.

    ``model``: None (the bundled e5-small) or a local sentence-transformers folder. ``cache_dir``: where converted
    and exported models live (None: ~/.cache/regkb/models). ``backend``: "auto" picks int8 ONNX where the CPU has
    VNNI or AVX2 (model.choose_backend), fp32 ONNX elsewhere; "torch" is the sentence-transformers path.
    ``threads``: intra-op threads (None: the CPUs this process may use)."""

    model: str | None = None
    cache_dir: Path | None = None
    backend: str = "auto"
    threads: int | None = None


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int
    currsize: int


class QueryCache:
    """A thread-safe LRU of query vectors (read-only arrays) that can be looked into without computing."""

    def __init__(self, maxsize: int = QUERY_CACHE_SIZE) -> None:
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.maxsize = maxsize
        self.hits = self.misses = 0

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            vec = self._items.get(text)
            if vec is None:
                self.misses += 1
                return None
            self._items.move_to_end(text)
            self.hits += 1
            return vec

    def put(self, text: str, vec: np.ndarray) -> np.ndarray:
        vec.flags.writeable = False  # cached: callers get copies
        with self._lock:
            self._items[text] = vec
            self._items.move_to_end(text)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return vec

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self.hits, self.misses, self.maxsize, len(self._items))


def cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1  # respects container CPU limits via affinity
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def l2_normalise(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return np.divide(vecs, np.maximum(norms, 1e-12), out=vecs if vecs.flags.writeable else None)


def _batches(order: list[int], sizes: list[int], batch_size: int | None,
             tokens: int | None = None) -> list[list[int]]:
    """Split length-sorted ``order`` into batches of ``batch_size`` texts, or (None) of at most ``tokens`` padded
    tokens (default PASSAGE_TOKENS; a text longer than that alone) and at most MAX_PASSAGE_BATCH texts."""
    if batch_size is not None:
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    tokens = tokens or PASSAGE_TOKENS
    out: list[list[int]] = []
    batch: list[int] = []
    for i in order:  # ascending, so the text being added is the batch's longest
        if batch and ((len(batch) + 1) * sizes[i] > tokens or len(batch) >= MAX_PASSAGE_BATCH):
            out.append(batch)
            batch = []
        batch.append(i)
    if batch:
        out.append(batch)
    return out


class Embedder:
    """A loaded model with the right prefix for each side. Subclasses implement ``_forward``."""

    backend = "base"
    _threads = 1  # intra-op threads; a backend with more runs a build's batches that many at a time

    def __init__(self, path: Path, name: str, dim: int, max_seq_length: int | None, query_prompt: str,
                 passage_prompt: str) -> None:
        self._path = Path(path)
        self._name = name
        self._dim = int(dim)
        self._max_seq_length = max_seq_length
        self._query_prompt = query_prompt
        self._passage_prompt = passage_prompt
        self._query_cache = QueryCache()  # per instance, so it dies with the model
        self._batcher_lock = threading.Lock()
        self._batcher: Any = None
        self._pool: tuple[int, ThreadPoolExecutor] | None = None  # build batches' threads: (their pid, the pool)

    # -- subclass hook -------------------------------------------------------------------------------------------

    def _forward(self, texts: list[str], passages: bool = False) -> np.ndarray:
        """Prefixed texts -> (len(texts), dim) float32, L2-normalised. One forward pass; no batching here.
        ``passages``: a build's passages (a backend may tokenise long batches differently, never to other ids)."""
        raise NotImplementedError

    def _token_counts(self, texts: list[str]) -> list[int]:
        """Tokens per prefixed text (truncated to the model's limit), for batching by size. Default: characters."""
        return [len(t) for t in texts]

    # -- properties ----------------------------------------------------------------------------------------------

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
        return self._max_seq_length

    @property
    def query_prompt(self) -> str:
        return self._query_prompt

    @property
    def passage_prompt(self) -> str:
        return self._passage_prompt

    @property
    def cache_tag(self) -> str:
        """Key of this model+backend's passage vectors in the build's embedding cache."""
        return self._name if self.backend == "torch" else f"{self._name}#{self.backend}"

    def describe(self) -> dict[str, Any]:
        return {"name": self._name, "dim": self._dim, "backend": self.backend}

    # -- encoding ------------------------------------------------------------------------------------------------

    def _encode(self, texts: list[str], prompt: str, batch_size: int | None, passages: bool = False) -> np.ndarray:
        """``batch_size``: texts per forward pass; None: batches of about PASSAGE_TOKENS tokens."""
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        prefixed = [prompt + t for t in texts]
        # Length-sorted batches: a batch is padded to its longest text, so similar lengths waste least work.
        sizes = self._token_counts(prefixed) if batch_size is None else [len(t) for t in prefixed]
        order = sorted(range(len(texts)), key=sizes.__getitem__)
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        budget = None if batch_size is not None else self._passage_tokens()
        batches = _batches(order, sizes, batch_size, budget)
        for idx, vecs in zip(batches, self._forward_batches([[prefixed[i] for i in idx] for idx in batches],
                                                             passages, parallel=batch_size is None)):
            out[idx] = vecs
        return l2_normalise(out)

    def _parallel_batches(self) -> int:
        """How many token-budget batches a backend runs at once (``_forward_batches``): its intra-op threads, each
        batch on one of them; 1, one after the other, for a backend that does not set ``_threads``."""
        return self._threads

    def _passage_tokens(self) -> int:
        """The token budget of a build's batches: PASSAGE_TOKENS in flight, whatever the batches at once."""
        return max(1, PASSAGE_TOKENS // self._parallel_batches())

    def _forward_batches(self, batches: list[list[str]], passages: bool, parallel: bool) -> Iterator[np.ndarray]:
        """``_forward`` of each batch, yielded in order; ``parallel``: the batches are token-budget ones (builds),
        run ``_parallel_batches()`` at a time by ``_forward_threaded`` when there are several."""
        workers = self._parallel_batches()
        if not parallel or workers < 2 or len(batches) < 2:
            return (self._forward(texts, passages) for texts in batches)
        return self._forward_threaded(batches, passages, workers)

    def _forward_threaded(self, batches: list[list[str]], passages: bool, workers: int) -> Iterator[np.ndarray]:
        """``batches`` on ``workers`` threads, in order; a backend overrides it to set its threads up."""
        return self._threaded(batches, lambda texts: self._forward(texts, passages), workers)

    def _threaded(self, batches: list[list[str]], forward: Callable[[list[str]], np.ndarray], workers: int,
                  initializer: Callable[[], None] | None = None) -> Iterator[np.ndarray]:
        """``forward`` of each batch on ``workers`` threads (made once per process: a forked child has none of its
        parent's threads), yielded in order. Longest batches first, so that the last to finish are short ones."""
        if self._pool is None or self._pool[0] != os.getpid():
            self._pool = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="regkb-embed-batch",
                                                          initializer=initializer))
        pool = self._pool[1]
        futures = {i: pool.submit(forward, batches[i]) for i in reversed(range(len(batches)))}
        for i in range(len(batches)):
            yield futures[i].result()

    def encode_queries(self, texts: list[str], batch_size: int = PASSAGE_BATCH) -> np.ndarray:
        """Embed search queries: float32, L2-normalised, shape (len(texts), dim)."""
        return self._encode(list(texts), self._query_prompt, batch_size)

    def encode_passages(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Embed indexed passages: float32, L2-normalised, shape (len(texts), dim). ``batch_size``: texts per forward
        pass; None (the default): batches of about PASSAGE_TOKENS tokens."""
        return self._encode(list(texts), self._passage_prompt, batch_size, passages=True)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query (1-D float32, L2-normalised) on this thread; repeated queries come from an LRU cache."""
        vec = self._query_cache.get(text)
        if vec is None:
            vec = self._query_cache.put(text, self._encode([text], self._query_prompt, 1)[0])
        return vec.copy()

    def cached_query(self, text: str) -> np.ndarray | None:
        """The cached vector of ``text`` (a copy), or None; counts as a cache hit or miss."""
        vec = self._query_cache.get(text)
        return None if vec is None else vec.copy()

    def remember_query(self, text: str, vec: np.ndarray) -> None:
        self._query_cache.put(text, vec)

    def submit_query(self, text: str) -> Future[np.ndarray]:
        """Embed one query on the model's own thread; queries waiting together share one forward pass."""
        vec = self.cached_query(text)
        if vec is not None:
            done: Future[np.ndarray] = Future()
            done.set_result(vec)
            return done
        return self._query_batcher().submit(text)

    def run_on_model_thread(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the thread that runs this model's queries (benchmarks, warm-up)."""
        return self._query_batcher().call(fn, *args).result()

    def _query_batcher(self) -> Any:
        from .batcher import QueryBatcher

        with self._batcher_lock:
            if self._batcher is None or not self._batcher.usable():
                self._batcher = QueryBatcher(self)
            return self._batcher

    def query_cache_info(self) -> CacheInfo:
        """Statistics of the query cache (hits, misses, maxsize, currsize)."""
        return self._query_cache.info()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, dim={self._dim}, backend={self.backend!r})"
