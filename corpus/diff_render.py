"""新旧対照表 (old/new comparison table) renderings of an ``EditionDiff``: Markdown, an HTML fragment, a full page.

One row per unit in new-edition order, columns 区分 | 改正後 | 改正前, as Japanese amendment tables are laid out.
Changed rows show the whole text with the changed runs marked (HTML ``<ins>``/``<del>``, Markdown ``**…**`` and
``~~…~~``); rows without a textual change show the heading only, to keep the table readable. Every piece of document
text is escaped: the texts come from PDFs and contain ``<https://…>`` and the like.
"""

from __future__ import annotations

import html
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


def _labels(diff: EditionDiff) -> tuple[str, str]:
    new = diff.new_edition_label or f"第{diff.new_edition}版"
    old = diff.old_edition_label or f"第{diff.old_edition}版"
    return new, old


def _title(diff: EditionDiff) -> str:
    new, old = _labels(diff)
    return f"新旧対照表 {diff.doc_label or diff.doc_id}（{old} → {new}）"


def _summary(diff: EditionDiff) -> str:
    counts = diff.counts()
    return "、".join(f"{CHANGE_LABELS[k]} {n}" for k, n in counts.items() if n)


def _side(item: DiffItem, side: str) -> list[tuple[str, bool]]:
    """The (text, marked) runs of one column: equal + inserted runs for the new side, equal + deleted for the old."""
    keep = "insert" if side == "new" else "delete"
    return [(text, op == keep) for op, text in item.inline if op in ("equal", keep)]


def _cell_runs(item: DiffItem, side: str) -> tuple[str | None, list[tuple[str, bool]]]:
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
    section, runs = _cell_runs(item, side)
    body = "".join(_md_mark(t, marker) if marked else _md_escape(t) for t, marked in runs)
    body = body.replace("\r", "").replace("\n", "<br>")
    return f"`{section}` {body}" if section else body


def to_markdown(diff: EditionDiff) -> str:
    """A GitHub-flavoured Markdown 新旧対照表: **inserted** and ~~deleted~~ runs, one table row per unit."""
    new, old = _labels(diff)
    lines = [
        f"# {_md_escape(_title(diff))}",
        "",
        _md_escape(_summary(diff)),
        "",
        f"| 区分 | 改正後（{new}） | 改正前（{old}） |",
        "| --- | --- | --- |",
    ]
    for item in diff.items:
        lines.append(f"| {CHANGE_LABELS[item.change]} | {_md_cell(item, 'new')} | {_md_cell(item, 'old')} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------------
# HTML


def _h(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>\n")


def _html_cell(item: DiffItem, side: str) -> str:
    tag = "ins" if side == "new" else "del"
    section, runs = _cell_runs(item, side)
    body = "".join(f"<{tag}>{_h(t)}</{tag}>" if marked else _h(t) for t, marked in runs)
    if section is None:
        return f'<td class="absent">{body}</td>'
    return f'<td><span class="sec">{_h(section)}</span> {body}</td>'


def to_html(diff: EditionDiff) -> str:
    """The 新旧対照表 as an HTML fragment: ``<table class="shinkyu">``, changed runs in ``<ins>``/``<del>``."""
    new, old = _labels(diff)
    rows = []
    for item in diff.items:
        cls = "change-" + item.change.replace("+", "-")
        rows.append(
            f'<tr class="{cls}"><th scope="row">{_h(CHANGE_LABELS[item.change])}</th>'
            f"{_html_cell(item, 'new')}{_html_cell(item, 'old')}</tr>"
        )
    return (
        f'<table class="shinkyu">\n<caption>{_h(_title(diff))}</caption>\n'
        f'<thead><tr><th scope="col">区分</th><th scope="col">改正後（{_h(new)}）</th>'
        f'<th scope="col">改正前（{_h(old)}）</th></tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
    )


TABLE_CSS = """
table.shinkyu { border-collapse: collapse; width: 100%; table-layout: fixed; }
table.shinkyu caption { text-align: left; font-weight: bold; margin-bottom: .5rem; }
table.shinkyu th, table.shinkyu td { border: 1px solid #999; padding: .4rem .6rem; vertical-align: top;
       overflow-wrap: anywhere; }
table.shinkyu thead th { background: #eee; }
table.shinkyu thead th:first-child { width: 6.5em; }  /* fixed layout takes widths from the first row */
table.shinkyu th[scope=row] { width: 7em; font-weight: normal; white-space: nowrap; }
table.shinkyu .sec { font-weight: bold; margin-right: .3em; }
table.shinkyu ins { text-decoration: underline; text-decoration-thickness: 2px; background: #fff3b0; }
table.shinkyu del { text-decoration: line-through; color: #a33; background: #fde2e2; }
table.shinkyu td.absent { color: #777; text-align: center; }
tr.change-unchanged td { color: #666; }
tr.change-added td:nth-child(2) { background: #f2fbf2; }
tr.change-removed td:nth-child(3) { background: #fbf2f2; }
p.summary { color: #444; }
"""
_CSS = """
body { font-family: "Hiragino Sans", "Noto Sans JP", "Yu Gothic", "Meiryo", sans-serif; margin: 1.5rem;
       color: #222; line-height: 1.6; }
""" + TABLE_CSS


def to_html_page(diff: EditionDiff) -> str:
    """A standalone HTML page (lang="ja", UTF-8, inline CSS, no external resources) holding the table."""
    title = _h(_title(diff))
    return (
        '<!DOCTYPE html>\n<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n<p class=\"summary\">{_h(_summary(diff))}</p>\n"
        f"{to_html(diff)}</body>\n</html>\n"
    )
