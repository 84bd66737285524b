"""The import rule (cli → api | eval → index | ingest → corpus) is a checked contract, not a sentence.

The contracts live in pyproject.toml under [tool.importlinter]; this runs import-linter on them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports() -> list[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]


def test_import_contracts_are_kept() -> None:
    r = subprocess.run([*_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    """The checker really checks: a copy of the tree where corpus imports index breaks the contract."""
    for pkg in ("cli", "api", "eval", "index", "ingest", "corpus"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "sources", "static",
                                                                                     "templates", "*.jsonl"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bad = tmp_path / "corpus" / "zz_bad.py"
    bad.write_text("import index.search\n", "utf-8")
    r = subprocess.run([*_lint_imports(), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert r.returncode != 0
    assert "corpus.zz_bad -> index.search" in r.stdout
