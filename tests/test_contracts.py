"""The import rule (cli → api | eval → index | ingest → corpus) is a checked contract, not a sentence.

The contracts live in pyproject.toml under [tool.importlinter]; this runs import-linter on them."""

from __future__ import annotations

import ast
import re
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


# -- settings and import-time side effects (issue 10, items 5 and 6) ---------------------------------------------------

PACKAGES = ("cli", "api", "eval", "index", "ingest", "corpus")
# Reading one variable, or writing any: only api/settings.py reads settings (REGKB_*), and nothing writes the
# environment. Copying the whole environment for a child process ({**os.environ, …}, dict(os.environ, …)) is fine.
_ENV_ACCESS = re.compile(r"os\.getenv|os\.putenv|os\.unsetenv|os\.environ\s*(?:\.(?:get|setdefault|update|pop|clear)|\[)"
                         r"|\benvvar\s*=")
_LOGGING_CHANGES = {"setLevel", "addFilter", "removeFilter", "addHandler", "removeHandler", "basicConfig", "disable",
                    "captureWarnings", "dictConfig", "fileConfig"}


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts)


def test_settings_are_read_only_in_api_settings() -> None:
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in _modules() if p != ROOT / "api" / "settings.py"
                 for n, line in enumerate(p.read_text("utf-8").splitlines(), start=1) if _ENV_ACCESS.search(line)]
    assert not offenders, offenders


def _import_time_statements(tree: ast.Module) -> list[ast.AST]:
    """Every node run when the module is imported: module and class bodies, not function bodies."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def test_no_module_changes_logging_or_the_environment_at_import() -> None:
    """Importing a module of this project must not change other libraries' loggers (levels, filters, handlers)
    nor the process environment: what a library logs is set by whoever runs it (the CLI's handler, the server)."""
    offenders = []
    for p in _modules():
        for node in _import_time_statements(ast.parse(p.read_text("utf-8"), str(p))):
            name = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in _LOGGING_CHANGES:
                    name = node.func.attr
                elif ast.unparse(node.func.value) == "os.environ" or node.func.attr in ("putenv", "unsetenv"):
                    name = ast.unparse(node.func)
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                if any(ast.unparse(t).startswith("os.environ") for t in targets):
                    name = "os.environ assignment"
            if name:
                offenders.append(f"{p.relative_to(ROOT)}:{getattr(node, 'lineno', '?')} {name}")
    assert not offenders, offenders
