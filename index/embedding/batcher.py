"""Micro-batching of concurrent queries: one thread per model runs every query forward pass.

Requests that arrive while a forward pass is running wait in a queue; the next pass takes all of them (up to
MAX_BATCH) at once. On 2 cores one pass of 8 short queries costs little more than one, so under load the queue
turns N passes into one instead of making N threads fight over the same cores. Queries never wait for company:
a lone query runs at once. Keeping the model on one thread also keeps per-thread native state (torch/MKL,
onnxruntime) to one copy.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAX_BATCH = 16


class QueryBatcher:
    def __init__(self, embedder: Any, max_batch: int = MAX_BATCH) -> None:
        self._embedder = embedder
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[str | None, Callable[[], Any] | None, Future[Any]]] = queue.SimpleQueue()
        self._pid = os.getpid()
        self.batches = 0  # forward passes run (statistics for benchmarks)
        self.queries = 0
        self._thread = threading.Thread(target=self._run, name=f"regkb-embed-{embedder.backend}", daemon=True)
        self._thread.start()

    def usable(self) -> bool:
        return self._pid == os.getpid() and self._thread.is_alive()  # a forked child has no such thread

    def submit(self, text: str) -> Future[np.ndarray]:
        fut: Future[np.ndarray] = Future()
        self._queue.put((text, None, fut))
        return fut

    def call(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        self._queue.put((None, lambda: fn(*args), fut))
        return fut

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            pending: list[tuple[str, Future[np.ndarray]]] = []
            item: tuple[str | None, Callable[[], Any] | None, Future[Any]] | None = first
            while item is not None:
                text, fn, fut = item
                if fn is not None:
                    self._call(fn, fut)  # other work runs in order, between query batches
                elif text is not None:
                    pending.append((text, fut))
                if len(pending) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            if pending:
                self._encode(pending)

    @staticmethod
    def _call(fn: Callable[[], Any], fut: Future[Any]) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            fut.set_exception(exc)

    def _encode(self, pending: list[tuple[str, Future[np.ndarray]]]) -> None:
        live = [(t, f) for t, f in pending if f.set_running_or_notify_cancel()]
        unique = list(dict.fromkeys(t for t, _ in live))
        try:
            vecs = self._embedder.encode_queries(unique, batch_size=len(unique) or 1)
        except BaseException as exc:  # noqa: BLE001 - every waiting caller gets the error
            for _, fut in live:
                fut.set_exception(exc)
            return
        self.batches += 1
        self.queries += len(live)
        by_text = {}
        for text, vec in zip(unique, vecs):
            self._embedder.remember_query(text, vec)
            by_text[text] = vec
        for text, fut in live:
            fut.set_result(by_text[text].copy())
