"""Where builds live, and the atomic swap of the current one.

    <data-dir>/index/CURRENT            the id of the build being served (replaced atomically, last)
    <data-dir>/index/builds/<id>/       one complete build: manifest.json, bm25/, dense.faiss, rows.jsonl …
    <data-dir>/index/builds/.tmp-<id>/  a build being written: never read, removed when found stale
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path

from corpus.errors import IndexNotBuilt
from corpus.fsutil import atomic_write_bytes, file_lock

log = logging.getLogger(__name__)
KEEP_BUILDS = 2  # the current build and the one before it, for a server that has not reloaded yet


def index_root(data_dir: Path) -> Path:
    return Path(data_dir) / "index"


def current_build_id(data_dir: Path) -> str | None:
    """The id CURRENT names, or None when no build was ever published (or the pointer is unreadable)."""
    try:
        return (index_root(data_dir) / "CURRENT").read_text().strip() or None
    except OSError:
        return None


def current_build(data_dir: Path) -> Path:
    root = index_root(data_dir)
    if not (root / "CURRENT").exists():
        raise IndexNotBuilt(f"no index in {root}", "run `regkb ingest` then `regkb build`")
    build_id = current_build_id(data_dir) or ""
    path = root / "builds" / build_id
    if not build_id or not path.is_dir():
        raise IndexNotBuilt(f"index pointer {root / 'CURRENT'} names a missing build {build_id!r}",
                            "run `regkb build`")
    return path


def build_lock(data_dir: Path) -> contextlib.AbstractContextManager[None]:
    """One build (or shard merge, or prune) at a time per data directory."""
    return file_lock(index_root(data_dir) / ".lock")


def new_build_dir(data_dir: Path, build_id: str) -> Path:
    tmp = index_root(data_dir) / "builds" / f".tmp-{build_id}"
    tmp.mkdir(parents=True)
    return tmp


def publish(data_dir: Path, tmp: Path, build_id: str) -> Path:
    """Move a finished build into place, then point CURRENT at it: readers see the old build or the new one."""
    final = tmp.parent / build_id
    # A directory rename, not a file write (corpus.fsutil): the build's files were written inside ``tmp``; the
    # atomic, durable step is the CURRENT pointer below.
    os.replace(tmp, final)
    atomic_write_bytes(index_root(data_dir) / "CURRENT", build_id.encode())
    _prune(data_dir, build_id)
    return final


def _prune(data_dir: Path, current: str) -> None:
    builds = index_root(data_dir) / "builds"
    done = sorted((p for p in builds.iterdir() if not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
    for old in [p for p in done if p.name != current][: max(0, len(done) - KEEP_BUILDS)]:
        # Renamed out of sight first: a process killed half-way through the delete leaves a .tmp- directory
        # (removed below next time), never a half-deleted build under a build's name.
        trash = builds / f".tmp-old-{old.name}"
        os.replace(old, trash)
        shutil.rmtree(trash, ignore_errors=True)
    # Builds abandoned by a killed process, and CURRENT's temp file if one was killed while replacing it:
    # called under the build lock, so no live build or write is among them.
    for stale in builds.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in index_root(data_dir).glob(".tmp-*"):
        stale.unlink(missing_ok=True)
