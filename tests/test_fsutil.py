"""corpus/fsutil.py: the one atomic, durable file write and the one file lock, used by every layer."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from corpus.fsutil import atomic_output, atomic_write, atomic_write_bytes, atomic_write_text, file_lock

ROOT = Path(__file__).resolve().parent.parent


def test_atomic_write_replaces_and_syncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    target = tmp_path / "sub" / "a.json"
    atomic_write_bytes(target, b"one")
    atomic_write_text(target, "二")
    assert target.read_text("utf-8") == "二"
    assert len(synced) == 4  # the file and its directory, each time
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    atomic_write_bytes(target, b"old")

    def broken(f: object) -> None:
        f.write(b"half")  # type: ignore[attr-defined]
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def _hold(lock: str, log: str, tag: str) -> None:
    with file_lock(lock):
        with open(log, "a") as f:
            f.write(f"{tag} in\n")
        time.sleep(0.3)
        with open(log, "a") as f:
            f.write(f"{tag} out\n")


def test_file_lock_excludes_other_processes(tmp_path: Path) -> None:
    lock, log = str(tmp_path / "d" / ".lock"), str(tmp_path / "log")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hold, args=(lock, log, str(i))) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    lines = Path(log).read_text().split()
    pairs = list(zip(lines[0::4], lines[2::4]))  # never "a in, b in": each holder leaves before the next enters
    assert len(lines) == 12 and all(a == b for a, b in pairs), lines


def test_no_other_module_locks_or_renames_files_itself() -> None:
    """File locks and atomic file writes live in corpus/fsutil.py; the two directory swaps stay with their owners."""
    allowed_replace = {"corpus/fsutil.py", "index/layout.py", "index/embedding/cache_dir.py"}
    offenders = []
    for pkg in ("cli", "api", "eval", "index", "ingest", "corpus"):
        for p in (ROOT / pkg).rglob("*.py"):
            rel, text = str(p.relative_to(ROOT)), p.read_text("utf-8")
            if rel != "corpus/fsutil.py" and ("fcntl" in text or "os.fsync" in text):
                offenders.append(rel)
            if rel not in allowed_replace and ("os.replace(" in text or "os.rename(" in text):
                offenders.append(rel)
    assert not offenders, offenders
