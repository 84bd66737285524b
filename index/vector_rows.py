"""Rows of a 2-D ``.npy`` matrix read from disk on demand, with pread (one compiled loop a call; ``os.preadv`` per
row where numba is not to be had).

The approximate dense index rescores its candidates with the float32 vectors (index/dense.py): at the statute
archive's scale that is 500 MB, of which a query needs ~200 rows. A memory map would do, but every page it touches
stays in the server's resident set; ``pread`` reads through the page cache, which the kernel shares and reclaims,
and leaves the process's memory as it was.
"""

from __future__ import annotations

import functools
import logging
import os
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import IndexMismatch

log = logging.getLogger(__name__)


class NpyRows:
    """``take(ids)``: rows ``ids`` of the C-ordered 2-D array saved at ``path`` by ``np.save``."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            try:
                major, _ = np.lib.format.read_magic(f)
                read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read_header(f)
            except ValueError as exc:
                raise IndexMismatch(f"{path} is not a .npy file ({exc}): rebuild the index (`regkb build`)") from exc
            self.offset = f.tell()
        if len(shape) != 2 or fortran or dtype.hasobject:
            raise IndexMismatch(f"{path} holds no C-ordered matrix of numbers: rebuild the index (`regkb build`)")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = dtype
        self.row_bytes = self.shape[1] * dtype.itemsize
        if path.stat().st_size < self.offset + self.shape[0] * self.row_bytes:
            raise IndexMismatch(f"{path} is shorter than its {self.shape[0]} rows: rebuild the index (`regkb build`)")
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        self.take(np.zeros(min(1, self.shape[0]), dtype=np.int64))  # compiles the gather now, not in a request

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty((len(ids), self.shape[1]), dtype=self.dtype)
        gather = _gather_kernel()
        if gather is not None:
            done = gather(self._fd, out, np.ascontiguousarray(ids, dtype=np.int64), self.offset, self.row_bytes,
                          self.shape[0])
            if done < 0:
                raise IndexError(f"row {int(ids[-1 - done])} of {self.shape[0]} in {self.path}")
            if done != len(ids):
                raise IndexMismatch(f"{self.path} changed while in use: restart the server")
            return out
        flat = out.reshape(-1).view(np.uint8)
        for j, i in enumerate(ids.tolist()):
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"row {i} of {self.shape[0]} in {self.path}")
            got = os.preadv(self._fd, [flat[j * self.row_bytes:(j + 1) * self.row_bytes]],
                            self.offset + i * self.row_bytes)
            if got != self.row_bytes:  # the file shrank under us: a build replaced by hand
                raise IndexMismatch(f"{self.path} changed while in use: restart the server")
        return out


@functools.cache
def _gather_kernel() -> Any:
    """All of a query's rows read in one compiled loop that calls libc's pread without the GIL (numba, which comes
    with ranx, calls it through ctypes). One ``os.preadv`` per row released and took back the GIL 200 times a query:
    with 16 requests in flight, waiting for it again took 18 % of the server's samples (py-spy) for 0.3 ms of reads.
    None where numba or libc's pread is not to be had: ``take`` then reads row by row."""
    try:
        import ctypes

        import numba

        pread = ctypes.CDLL(None, use_errno=True).pread
    except (ImportError, OSError, AttributeError) as exc:  # pragma: no cover - numba comes with ranx; Linux libc
        log.warning("rows are read one call at a time (%s)", exc)
        return None
    pread.restype = ctypes.c_ssize_t
    pread.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64]

    @numba.njit(nogil=True)
    def gather(fd, out, ids, offset, row_bytes, n_rows):  # type: ignore[no-untyped-def]
        """Rows ``ids`` into ``out`` (C order); returns len(ids), -1 - j for an id out of range at j, or the
        index of the first short read."""
        base = out.ctypes.data
        for j in range(len(ids)):
            if ids[j] < 0 or ids[j] >= n_rows:
                return -1 - j
            if pread(fd, base + j * row_bytes, row_bytes, offset + ids[j] * row_bytes) != row_bytes:
                return j
        return len(ids)

    return gather
