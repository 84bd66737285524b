"""The model cache folder: where it is, and how a folder is published into it atomically (write aside, rename).

Converted and exported models are written into a temporary sibling and renamed into place, so a reader finds
either nothing, the previous folder or the complete new one; a lock file makes concurrent processes convert once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from corpus.fsutil import file_lock

_TMP_INFIX = ".tmp-"
# Temp folders older than this are leftovers of a killed conversion (a conversion takes seconds to a minute).
_STALE_TMP_SECONDS = 3600.0


def model_cache_root(cache_dir: Path | None = None) -> Path:
    """The given cache folder, else ``~/.cache/regkb/models`` (the settings pass REGKB_MODEL_CACHE down)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path.home() / ".cache" / "regkb" / "models"


def apply_umask(folder: Path) -> None:
    # mkdtemp (and some savers) create owner-only modes; the cache should look like any other folder.
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for p in folder.rglob("*"):
        p.chmod((0o777 if p.is_dir() else 0o666) & ~umask)


def tmp_sibling(dest: Path, tag: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{dest.name}{_TMP_INFIX}{tag}-", dir=dest.parent))


def replace_dir(src: Path, dest: Path) -> None:
    """Move the finished folder into place; an existing destination is moved aside first. (A directory swap, so
    not corpus.fsutil's atomic file write.)"""
    try:
        os.replace(src, dest)
        return
    except OSError:
        if not dest.exists():
            raise
    # os.replace cannot overwrite a non-empty directory: swap the old one out, then remove it.
    trash = tmp_sibling(dest, "old")
    os.replace(dest, trash / dest.name)
    os.replace(src, dest)
    shutil.rmtree(trash, ignore_errors=True)


def remove_stale_tmp(dest: Path) -> None:
    now = time.time()
    for p in dest.parent.glob(f".{dest.name}{_TMP_INFIX}*"):
        try:
            if now - p.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def locked(dest: Path) -> contextlib.AbstractContextManager[None]:
    """Hold an exclusive lock beside ``dest`` (other processes wait; the lock file stays, empty)."""
    return file_lock(dest.parent / f".{dest.name}.lock")
