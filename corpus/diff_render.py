"""新旧対照表 (old/new comparison table) of an ``EditionDiff`` as Markdown, and the cell contents every rendering shares.

One row per unit in new-edition order, columns 区分 | 改正後 | 改正前, as Japanese amendment tables are laid out.
Changed rows show the whole text with the changed runs marked (Markdown ``**…**`` and ``~~…~~``); rows without a
textual change show the heading only, to keep the table readable. Every piece of document text is escaped: the texts
come from PDFs and contain ``<https://…>`` and the like. The HTML table is the web page's (``api.render_diff``).
"""

from __future__ import annotations

import re

from corpus.diff import DiffItem, EditionDiff

CHANGE_LABELS: dict[str, str] = {
    "unchanged": "変更なし",
    "modified": "変更",
    "renumbered": "番号変更",
    "renumbered+modified": "番号変更・変更",
    "added": "新設",
    "removed": "削除",
}
_TEXT_CHANGES = ("modified", "renumbered+modified")
NEW_ABSENT = "（削除）"  # what the 改正後 column says for a removed unit
OLD_ABSENT = "（新設）"  # what the 改正前 column says for an added unit


def labels(diff: EditionDiff) -> tuple[str, str]:
    new = diff.new_edition_label or f"第{diff.new_edition}版"
    old = diff.old_edition_label or f"第{diff.old_edition}版"
    return new, old


def title(diff: EditionDiff) -> str:
    new, old = labels(diff)
    return f"新旧対照表 {diff.doc_label or diff.doc_id}（{old} → {new}）"


def summary(diff: EditionDiff) -> str:
    counts = diff.counts()
    return "、".join(f"{CHANGE_LABELS[k]} {n}" for k, n in counts.items() if n)


def _side(item: DiffItem, side: str) -> list[tuple[str, bool]]:
    """The (text, marked) runs of one column: equal + inserted runs for the new side, equal + deleted for the old."""
    keep = "insert" if side == "new" else "delete"
    return [(text, op == keep) for op, text in item.inline if op in ("equal", keep)]


def cell_runs(item: DiffItem, side: str) -> tuple[str | None, list[tuple[str, bool]]]:
    """(section id, runs) of one cell; an absent unit gives (None, the placeholder).

    Changed rows show the full text with their side of the inline diff; added and removed rows their full text;
    rows without a textual change (unchanged, renumbered) only the heading."""
    section = item.new if side == "new" else item.old
    if section is None:
        return None, [(NEW_ABSENT if side == "new" else OLD_ABSENT, False)]
    if item.change in _TEXT_CHANGES and item.inline:
        return section, _side(item, side)
    if item.change in ("added", "removed"):
        text = item.new_text if side == "new" else item.old_text
        return section, [(text or "", False)]
    heading = item.new_heading if side == "new" else item.old_heading
    return section, [(heading or "", False)]


# ---------------------------------------------------------------------------------------------------------------------
# Markdown

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
