"""Durable file writes and inter-process locks, used by every layer (the corpus store, the index builds, the
embedding caches, saved-answer exports and backups).

* ``atomic_write_bytes`` / ``atomic_write_text`` / ``atomic_write``: readers see the old file or the new one, never
  a half-written one, and a completed write survives a crash: the data is written to a temp file beside the target,
  fsynced, renamed over it, and the directory is fsynced so that the rename itself is on disk.
* ``atomic_output``: the same for a writer that needs a path rather than a file object (SQLite's backup).
* ``file_lock``: an exclusive ``flock`` on a lock file, held for a ``with`` block; other processes wait.

Directory swaps (a build or a converted model moved into place) are another operation and stay with their owners
(``index.layout.publish``, ``index.embedding.cache_dir.replace_dir``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

TMP_PREFIX = ".tmp-"  # temp files start with it: stale ones are recognisable, and never taken for data


def fsync_dir(directory: Path) -> None:
    """Make a rename (or a new file) in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: Path | str, prefix: str = TMP_PREFIX) -> Iterator[Path]:
    """A temp path beside ``path`` for the caller to write in full; when the block ends without an error the file
    is fsynced and renamed over ``path`` (and the directory fsynced), otherwise it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path | str, write: Callable[[BinaryIO], object]) -> None:
    """``write(f)`` fills a binary file that then replaces ``path`` atomically and durably (numpy's save, …)."""
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        write(f)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a half-written one."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: Path | str, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def file_lock(path: Path | str) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing, left in place, empty) for the block;
    other processes (and other threads opening it) wait. Released when the block ends or the process dies."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
