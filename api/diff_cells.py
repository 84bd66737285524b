"""What every rendering of the 新旧対照表 shows: change labels, title, summary and the runs of each cell.

One row per unit in new-edition order, columns 区分 | 改正後 | 改正前, as Japanese amendment tables are laid out.
Changed rows show the whole text with the changed runs marked; rows without a textual change show the heading only,
to keep the table readable. The renderings: HTML in ``api.render_diff``, Markdown in ``api.render_diff_md``.
"""

from __future__ import annotations

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
