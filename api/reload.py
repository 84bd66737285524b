"""Follow the current build: when `regkb build` (or an admin upload) publishes a new one, load it in a worker
thread and swap it in with one assignment. Requests keep being answered by the old build until then, and never
see a half-loaded one (builds are immutable directories; the previous build is kept on disk)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from index.layout import current_build_id

log = logging.getLogger(__name__)
CHECK_EVERY_S = 1.0
LoadFn = Callable[[], bool]  # loads the current build and swaps it in; False when it could not


async def follow_builds(app: FastAPI, data_dir: Path, load: LoadFn) -> None:
    """Poll the build pointer; on change, load the new build off the event loop and swap it in."""
    failed: str | None = None
    while True:
        await asyncio.sleep(CHECK_EVERY_S)
        pointer = current_build_id(data_dir)
        serving = getattr(app.state, "searcher", None)
        serving_id = serving.build_dir.name if serving is not None else None
        if pointer is None or pointer in (serving_id, failed):
            continue
        log.info("new index build %s: loading", pointer)
        ok = await asyncio.to_thread(load)
        failed = None if ok else pointer

