"""The tiny interface both retrieval backends implement (keyword and dense)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np


class Backend(ABC):
    """Scores the rows of a build (one row per indexable clause) for a query."""

    name: str

    @abstractmethod
    def save(self, directory: Path) -> dict[str, Any]:
        """Write the backend's files into ``directory``; return what the manifest should record."""

    @abstractmethod
    def rank(self, query: Any, allowed: np.ndarray | None, k: int) -> list[tuple[int, float]]:
        """Best ``k`` rows as (row, score), best first, among ``allowed`` rows (a bool mask; None = all)."""
