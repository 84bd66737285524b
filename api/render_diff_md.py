"""The 新旧対照表 as GitHub-flavoured Markdown (``regkb diff --format md``).

Changed runs are ``**…**`` (inserted) and ``~~…~~`` (deleted). Every piece of document text is escaped: the texts
come from PDFs and contain ``<https://…>`` and the like.
"""

from __future__ import annotations

import re

from api.diff_cells import CHANGE_LABELS, cell_runs, labels, summary, title
from corpus.diff import DiffItem, EditionDiff

_MD_SPECIAL = re.compile(r"([\\`*_~|<>\[\]#])")


def _md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_mark(text: str, marker: str) -> str:
    """Wrap each line of a changed run in ``marker``; emphasis cannot span a table-cell line break or start/end
    with a space, so the spaces stay outside."""
    out = []
    for line in text.split("\n"):
        core = line.strip()
        if not core:
            out.append(_md_escape(line))
            continue
        lead = line[: len(line) - len(line.lstrip())]
        trail = line[len(line.rstrip()) :]
        out.append(f"{lead}{marker}{_md_escape(core)}{marker}{trail}")
    return "\n".join(out)


def _md_cell(item: DiffItem, side: str) -> str:
    marker = "**" if side == "new" else "~~"
    section, runs = cell_runs(item, side)
    body = "".join(_md_mark(t, marker) if marked else _md_escape(t) for t, marked in runs)
    body = body.replace("\r", "").replace("\n", "<br>")
    return f"`{section}` {body}" if section else body


def to_markdown(diff: EditionDiff) -> str:
    """A GitHub-flavoured Markdown 新旧対照表: **inserted** and ~~deleted~~ runs, one table row per unit."""
    new, old = labels(diff)
    lines = [
        f"# {_md_escape(title(diff))}",
        "",
        _md_escape(summary(diff)),
        "",
        f"| 区分 | 改正後（{new}） | 改正前（{old}） |",
        "| --- | --- | --- |",
    ]
    for item in diff.items:
        lines.append(f"| {CHANGE_LABELS[item.change]} | {_md_cell(item, 'new')} | {_md_cell(item, 'old')} |")
    return "\n".join(lines) + "\n"
