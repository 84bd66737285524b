"""What every benchmark module shares: the repository's paths, k, and progress output."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "eval" / "dev.jsonl"
OOD = REPO / "eval" / "out-of-corpus.jsonl"
K = 10


def say(msg: str) -> None:
    print(msg, flush=True)
