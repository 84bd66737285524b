"""Issue 2: the `regkb` command line (run as a real subprocess, as a user would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def regkb(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent.parent)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    r = regkb("ingest", data_dir=d)
    assert r.returncode == 0, r.stderr
    assert "hojokin-qa (edition 2 第2版, 2026-03-09)" in r.stdout
    return d


def test_clauses_json(data_dir: Path) -> None:
    r = regkb("clauses", "hojokin-qa", "--json", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    items = [c for c in rows if c["kind"] == "item"]
    assert len(items) == 27
    for key in ("doc", "section", "parent", "edition", "citation", "text"):
        assert key in rows[0]
    assert items[0]["citation"] == "Q&A（第2版）1-1"


def test_ingest_new_edition_with_flags(data_dir: Path) -> None:
    r = regkb("ingest", str(DATA / "hojokin-qa-edition1.txt"), "--doc", "hojokin-qa", "--edition", "1",
              "--date", "2026-02-06", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    r = regkb("clause", "hojokin-qa", "2-9", "--edition", "1", "--json", data_dir=data_dir)
    c = json.loads(r.stdout)
    assert c["edition"] == 1 and c["citation"] == "Q&A（第1版）2-9"
    assert c["heading"].startswith("医療機関・薬局のシステム改修を支援する補助金")


def test_clause_text_output(data_dir: Path) -> None:
    r = regkb("clause", "jisshi-youkou", "4(2)エ", data_dir=data_dir)
    assert r.returncode == 0
    assert r.stdout.startswith("「実施要綱 4(2)エ」")


def test_errors_are_one_clear_message(data_dir: Path, tmp_path: Path) -> None:
    r = regkb("clause", "hojokin-qa", "9-9", data_dir=data_dir)
    assert r.returncode == 2
    assert "error: hojokin-qa (edition 2) has no section '9-9'" in r.stderr
    assert "Traceback" not in r.stderr
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    r = regkb("ingest", str(empty), data_dir=data_dir)
    assert r.returncode == 2 and str(empty) in r.stderr and "Traceback" not in r.stderr
    r = regkb("clauses", "no-such-doc", data_dir=data_dir)
    assert r.returncode == 2 and "unknown document 'no-such-doc'" in r.stderr


def test_every_command_has_help_with_an_example(data_dir: Path) -> None:
    for cmd in ("ingest", "clauses", "clause"):
        r = regkb(cmd, "--help", data_dir=data_dir)
        assert r.returncode == 0 and "Example:" in r.stdout, cmd


def test_diff_reproduces_the_expected_fixture(data_dir: Path) -> None:
    regkb("ingest", str(DATA / "hojokin-qa-edition1.txt"), data_dir=data_dir)
    r = regkb("diff", "hojokin-qa", "--from", "1", "--to", "2", "--format", "json", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    expected = json.loads((DATA / "hojokin-qa-edition1-to-2.expected.json").read_text("utf-8"))
    assert (got["old_edition"], got["new_edition"]) == (expected["old_edition"], expected["new_edition"])
    assert [(i["change"], i["new"], i["old"]) for i in got["items"]] == \
        [(i["change"], i["new"], i["old"]) for i in expected["items"]]
    md = regkb("diff", "hojokin-qa", "--from", "1", "--to", "2", "--format", "md", data_dir=data_dir).stdout
    assert "新旧対照表" in md and "~~5~~" in md and "**6**" in md
    html = regkb("diff", "hojokin-qa", "--from", "1", "--to", "2", "--format", "html", data_dir=data_dir).stdout
    assert html.startswith("<!DOCTYPE html>") and "<del>5</del>" in html


def bare_regkb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`regkb ARGS` with no --data-dir before the command (REGKB_DATA_DIR unset unless ``env`` sets it)."""
    environ = {k: v for k, v in os.environ.items() if k != "REGKB_DATA_DIR"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent.parent, env={**environ, **(env or {})})


@pytest.mark.parametrize("args", [
    ("ingest", "--bogus"),
    ("search",),  # a missing argument
    ("search", "補助", "--k", "many"),
    ("clause", "jisshi-youkou", "4(2)エ", "--edition"),
    ("answers", "list", "--bogus"),
    ("no-such-command",),
])
def test_usage_errors_are_a_clear_message_never_a_traceback(args: tuple[str, ...], tmp_path: Path) -> None:
    r = bare_regkb(*args, "--data-dir", str(tmp_path)) if args[0] != "no-such-command" else bare_regkb(*args)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "Usage:" in r.stderr and "--help" in r.stderr, r.stderr


def test_data_dir_is_accepted_after_the_command(data_dir: Path, tmp_path: Path) -> None:
    """The README: every command has --data-dir (before the command, as everywhere else in these tests, or after)."""
    r = bare_regkb("ingest", "--data-dir", str(tmp_path / "x"), "--help")
    assert r.returncode == 0 and "--data-dir" in r.stdout and "Traceback" not in r.stderr, r.stderr
    fresh = tmp_path / "after"
    r = bare_regkb("ingest", str(DATA / "hojokin-qa-edition1.txt"), "--doc", "hojokin-qa", "--edition", "1",
                   "--data-dir", str(fresh))
    assert r.returncode == 0, r.stderr
    assert (fresh / "corpus" / "manifest.json").exists()
    r = bare_regkb("clauses", "hojokin-qa", "--json", "--data-dir", str(fresh))
    assert r.returncode == 0, r.stderr
    assert {c["edition"] for c in json.loads(r.stdout)} == {1}
    # After the command wins over before it, and over REGKB_DATA_DIR.
    r = bare_regkb("--data-dir", str(tmp_path / "nowhere"), "clause", "hojokin-qa", "2-9", "--json",
                   "--data-dir", str(fresh), env={"REGKB_DATA_DIR": str(tmp_path / "nowhere")})
    assert r.returncode == 0 and json.loads(r.stdout)["edition"] == 1, r.stderr
    # REGKB_DATA_DIR alone (the settings) still names it.
    r = bare_regkb("clause", "hojokin-qa", "2-9", "--json", env={"REGKB_DATA_DIR": str(fresh)})
    assert r.returncode == 0 and json.loads(r.stdout)["edition"] == 1, r.stderr
    r = bare_regkb("answers", "export", "--format", "json", "--data-dir", str(fresh))
    assert r.returncode == 0 and json.loads(r.stdout)["answers"] == [], r.stderr
    r = bare_regkb("answers", "--data-dir", str(fresh), "backup", str(tmp_path / "b.sqlite3"))
    assert r.returncode == 0 and (tmp_path / "b.sqlite3").exists(), r.stderr


def _commands() -> dict[str, object]:
    """Every command of the `regkb` app, by its full name ("search", "answers list" …)."""
    import typer

    from cli.main import app

    out: dict[str, object] = {}

    def walk(group: object, prefix: str) -> None:
        for name, cmd in getattr(group, "commands", {}).items():
            if getattr(cmd, "commands", None):
                walk(cmd, f"{prefix}{name} ")
            else:
                out[f"{prefix}{name}"] = cmd

    walk(typer.main.get_command(app), "")
    return out


def test_every_command_has_data_dir_help_and_an_example() -> None:
    commands = _commands()
    assert {"ingest", "build", "search", "clauses", "clause", "diff", "eval", "serve", "compare",
            "answers list", "answers save", "answers recheck"} <= set(commands)
    for name, cmd in commands.items():
        options = {o for p in cmd.params for o in getattr(p, "opts", ())}  # type: ignore[attr-defined]
        assert "--data-dir" in options, name
        assert "Example:" in (cmd.help or ""), name  # type: ignore[attr-defined]


def test_readme_covers_every_command() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    for name in _commands():
        if name.startswith("answers "):  # listed in one line: `regkb answers list …`, `show ID`, `save …` …
            sub = name.split()[1]
            assert f"`regkb {name}" in readme or f"`{sub} " in readme or f"`{sub}`" in readme, name
        else:
            assert f"regkb {name}" in readme, name


# -- with an index (issue 10: settings reach the search; a configured model never overrides the index's) -------------


def test_a_configured_model_other_than_the_index_s_is_refused_clearly(built_data_dir: Path) -> None:
    """REGKB_EMBEDDING_MODEL=/nonexistent: one clear error, no traceback, and the index's model is not silently
    replaced (in any mode)."""
    for extra in ((), ("--mode", "bm25")):
        r = bare_regkb("search", "補助対象", *extra, "--data-dir", str(built_data_dir),
                       env={"REGKB_EMBEDDING_MODEL": "/nonexistent"})
        assert r.returncode == 2, r.stdout + r.stderr
        assert "Traceback" not in r.stderr
        assert r.stderr.startswith("error: the index was built with embedding model") and "/nonexistent" in r.stderr
        assert "hint: unset REGKB_EMBEDDING_MODEL" in r.stderr


def test_the_query_limit_comes_from_the_settings(built_data_dir: Path) -> None:
    question = ("学校保健安全法に基づく医療費援助は補助対象ですか" * 40)[:700]
    r = bare_regkb("search", question, "--mode", "bm25", "--k", "1", "--data-dir", str(built_data_dir))
    assert r.returncode == 2 and "error: the query is 700 characters, over the limit of 500" in r.stderr, r.stderr
    r = bare_regkb("search", question, "--mode", "bm25", "--k", "1", "--data-dir", str(built_data_dir),
                   env={"REGKB_MAX_QUERY_CHARS": "800"})
    assert r.returncode == 0 and "「Q&A（第2版）2-9」" in r.stdout, r.stderr


def test_search_says_when_a_cited_clause_does_not_exist(built_data_dir: Path) -> None:
    r = bare_regkb("search", "Q&A 9-9", "--mode", "bm25", "--k", "1", "--data-dir", str(built_data_dir))
    assert r.returncode == 0 and "（「Q&A 9-9」は収録した文書にありません。" in r.stdout, r.stderr
    assert "（確信度低）" in r.stdout


def test_search_says_which_words_it_added(built_data_dir: Path) -> None:
    r = bare_regkb("search", "育生医療は対象になりますか", "--k", "1", "--data-dir", str(built_data_dir))
    assert r.returncode == 0 and "（「育成」を補って検索しました）" in r.stdout, r.stderr


def test_build_prints_no_library_debug_lines(tmp_path: Path) -> None:
    """bm25s sets its own logger to DEBUG at import: `regkb build` (even with -v) shows none of it.

    Over the bundled documents without the statutes: the same code runs and logs, in 1 s instead of 5 s (the
    whole bundled corpus is built by the CLI in test_wheel)."""
    from corpus.store import Store
    from tests.storeutil import ingest_bundled_without_laws

    ingest_bundled_without_laws(Store(tmp_path))
    r = bare_regkb("-v", "build", "--no-dense", "--data-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "DEBUG" not in r.stdout + r.stderr and "built " in r.stdout
