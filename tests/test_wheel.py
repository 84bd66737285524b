"""The built package runs: a wheel built from this tree, installed in a fresh virtualenv outside the checkout,
imports every module it ships and runs ingest, build and search (issue 10).

Third-party dependencies come from the test environment through a .pth line (no download); the project's own
code comes only from the wheel — the test asserts that ``api`` is imported from the new environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cli", "api", "eval", "index", "ingest", "corpus")

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    # Built from a copy of the tree: setuptools writes build/ beside the sources, and a stale build/ could hide a
    # module missing from the package list.
    src = base / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=ignore)
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    # --no-isolation: build with the setuptools already installed, offline.
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(src)], cwd=base)
    (wheel,) = dist.glob("regkb-*.whl")
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base).stdout.strip())
    deps = sysconfig.get_paths()["purelib"]
    # A plain path line: the test environment's own .pth files (the editable install of this checkout) are not read.
    (site / "zz_test_deps.pth").write_text(deps + "\n", "utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)],
         cwd=base)
    return wheel, env_dir


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGKB_", "PYTHON"))}
    return env


def test_wheel_ships_every_module_and_data_file(wheel_env: tuple[Path, Path]) -> None:
    wheel, env_dir = wheel_env
    names = set(zipfile.ZipFile(wheel).namelist())
    for pkg in PACKAGES:
        for src in (ROOT / pkg).rglob("*"):
            if src.is_file() and "__pycache__" not in src.parts and src.suffix != ".pyc":
                rel = src.relative_to(ROOT).as_posix()
                assert rel in names, f"{rel} is missing from the wheel"
    py = env_dir / "bin" / "python"
    code = ("import importlib, pkgutil, api, cli, eval, index, ingest, corpus, sys\n"
            "assert api.__file__.startswith(sys.prefix), api.__file__\n"
            "for pkg in (api, cli, eval, index, ingest, corpus):\n"
            "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
            "        importlib.import_module(m.name)\n")
    _run([str(py), "-c", code], cwd=wheel.parent, env=_env())


def test_wheel_ingests_builds_and_searches(wheel_env: tuple[Path, Path], tmp_path: Path) -> None:
    _, env_dir = wheel_env
    regkb = str(env_dir / "bin" / "regkb")
    data = tmp_path / "data"
    _run([regkb, "--data-dir", str(data), "ingest"], cwd=tmp_path, env=_env())
    _run([regkb, "--data-dir", str(data), "build", "--no-dense"], cwd=tmp_path, env=_env())
    r = _run([regkb, "--data-dir", str(data), "search", "学校保健安全法の医療費援助も補助対象？", "--mode", "bm25",
              "--k", "3"], cwd=tmp_path, env=_env())
    assert "2-9" in r.stdout
