"""Issue 2: the `regkb` command line (run as a real subprocess, as a user would)."""

from __future__ import annotations

import json
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
