"""The 新旧対照表 as HTML: the table of the web page (``to_html``) and a standalone page (``to_html_page``, for
``regkb diff --format html``). Cell contents come from ``api.diff_cells``; the styles are the page's own
stylesheet (``api/static/shinkyu.css``), linked by the web page and inlined into the standalone one.

Each row has an id (``row_id``) so that a clause's 「第2版で変更」 badge can open its row. Changed runs are
``<ins>``/``<del>``, styled by more than colour (underline or strike-through, bold, a box), so a one-character
change (5 → 6) stands out.
"""

from __future__ import annotations

import html

from api.diff_cells import CHANGE_LABELS, cell_runs, labels, summary, title
from api.routes import STATIC_DIR
from api.web import row_id
from corpus.diff import DiffItem, EditionDiff

STYLESHEET = STATIC_DIR / "shinkyu.css"


def _h(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>\n")


def cell_html(item: DiffItem, side: str) -> str:
    """One side of a row, its changed runs marked: the content of a table cell (also shown on a clause page)."""
    tag = "ins" if side == "new" else "del"
    section, runs = cell_runs(item, side)
    body = "".join(f"<{tag}>{_h(t)}</{tag}>" if marked else _h(t) for t, marked in runs)
    return body if section is None else f'<span class="sec">{_h(section)}</span> {body}'


def _cell(item: DiffItem, side: str) -> str:
    section, _ = cell_runs(item, side)
    return f'<td class="{"absent" if section is None else side}">{cell_html(item, side)}</td>'


def to_html(diff: EditionDiff) -> str:
    """The 新旧対照表 as an HTML fragment: ``<table class="shinkyu">``, one row per unit, each with its id."""
    new, old = labels(diff)
    rows = []
    for item in diff.items:
        cls = "change-" + item.change.replace("+", "-")
        rows.append(
            f'<tr id="{_h(row_id(item.new, item.old))}" class="{cls}"><th scope="row">{_h(CHANGE_LABELS[item.change])}</th>'
            f"{_cell(item, 'new')}{_cell(item, 'old')}</tr>"
        )
    return (
        f'<table class="shinkyu">\n<caption>{_h(title(diff))}</caption>\n'
        f'<thead><tr><th scope="col" class="kubun">区分</th><th scope="col">改正後（{_h(new)}）</th>'
        f'<th scope="col">改正前（{_h(old)}）</th></tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
    )


def to_html_page(diff: EditionDiff) -> str:
    """A standalone HTML page (lang="ja", UTF-8, the stylesheet inlined, no external resources) holding the table."""
    heading = _h(title(diff))
    css = STYLESHEET.read_text("utf-8")
    return (
        '<!DOCTYPE html>\n<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{heading}</title>\n<style>\nbody {{ font-family: sans-serif; margin: 1.5rem; color: #1b1f24; "
        f"line-height: 1.6; }}\n{css}</style>\n</head>\n<body>\n"
        f"<h1>{heading}</h1>\n<p class=\"summary\">{_h(summary(diff))}</p>\n"
        f"{to_html(diff)}</body>\n</html>\n"
    )
