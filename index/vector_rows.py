"""Rows of a 2-D ``.npy`` matrix read from disk on demand, with ``os.pread``.

The approximate dense index rescores its candidates with the float32 vectors (index/dense.py): at the statute
archive's scale that is 500 MB, of which a query needs ~200 rows. A memory map would do, but every page it touches
stays in the server's resident set; ``pread`` reads through the page cache, which the kernel shares and reclaims,
and leaves the process's memory as it was.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np

from corpus.errors import IndexMismatch


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

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty((len(ids), self.shape[1]), dtype=self.dtype)
        flat = out.reshape(-1).view(np.uint8)
        for j, i in enumerate(ids.tolist()):
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"row {i} of {self.shape[0]} in {self.path}")
            got = os.preadv(self._fd, [flat[j * self.row_bytes:(j + 1) * self.row_bytes]],
                            self.offset + i * self.row_bytes)
            if got != self.row_bytes:  # the file shrank under us: a build replaced by hand
                raise IndexMismatch(f"{self.path} changed while in use: restart the server")
        return out
