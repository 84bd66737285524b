"""A searcher that follows the current build: when a new build is published (CURRENT changes), the next request
after a short check interval loads it in the background and swaps it in with one reference assignment.

Requests never wait for a load and never see a half-loaded build: until the new searcher is ready they are
answered by the old one, which stays intact (builds are immutable directories; the previous one is kept).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from corpus.errors import RegkbError
from index.layout import index_root
from index.search import Searcher

log = logging.getLogger(__name__)


class LiveSearcher:
    def __init__(self, data_dir: Path, *, check_every_s: float = 1.0, embedding_model: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.check_every_s = check_every_s
        self.embedding_model = embedding_model
        self._current: Searcher | None = None
        self._current_id: str | None = None
        self._error: RegkbError | None = None
        self._failed_id: str | None = None  # a build that failed to load is not retried every second
        self._last_check = 0.0
        self._loading = threading.Lock()

    def _pointer(self) -> str | None:
        try:
            return (index_root(self.data_dir) / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None

    def load_now(self) -> None:
        """Load the current build synchronously (at start-up)."""
        self._load(self._pointer())

    def _load(self, build_id: str | None) -> None:
        try:
            # The corpus may already hold an edition the next build will add: serve this build meanwhile
            # (health reports it as stale) rather than refuse to answer.
            searcher = Searcher.load(self.data_dir, check_corpus=False, embedding_model=self.embedding_model)
            searcher.warm_up()
        except RegkbError as e:
            if self._current is None:
                self._error = e
            self._failed_id = build_id
            log.warning("index not (re)loaded: %s", e)
            return
        self._current, self._current_id, self._error = searcher, build_id, None
        log.info("serving index build %s", searcher.manifest["build_id"])

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._last_check < self.check_every_s:
            return
        self._last_check = now
        pointer = self._pointer()
        if pointer and pointer not in (self._current_id, self._failed_id) and self._loading.acquire(blocking=False):
            def work() -> None:
                try:
                    self._load(pointer)
                finally:
                    self._loading.release()

            threading.Thread(target=work, name="regkb-reload", daemon=True).start()

    def get(self) -> Searcher:
        """The searcher for this request; raises the load error (IndexNotBuilt …) when there is none."""
        self._maybe_reload()
        if self._current is None:
            raise self._error or RegkbError("the index is still loading", "try again in a few seconds")
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    @property
    def error(self) -> RegkbError | None:
        return self._error

    def stale(self) -> bool:
        """True when the corpus store has changed since the served build was made (a build is due)."""
        from corpus.store import Store

        store = Store(self.data_dir)
        if self._current is None or not store.exists():
            return False
        return store.state_hash() != self._current.manifest.get("corpus_hash")
