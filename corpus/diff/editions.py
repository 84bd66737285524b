"""``diff_editions``: align two editions' units, classify each pair and lay the rows out in new-edition order."""

from __future__ import annotations

from collections.abc import Sequence

from corpus.diff.align import align
from corpus.diff.inline import inline_diff
from corpus.diff.model import ChangeKind, DiffItem, EditionDiff, InlineOp
from corpus.diff.similarity import units
from corpus.model import ParsedDocument

DEFAULT_KINDS: tuple[str, ...] = ("item", "clause", "page")


def edition_label(doc: ParsedDocument) -> str:
    return doc.document.edition_label or f"第{doc.document.edition}版"


def diff_editions(
    old: ParsedDocument, new: ParsedDocument, *, kinds: Sequence[str] = DEFAULT_KINDS
) -> EditionDiff:
    """Align the citable units of two editions by content and classify each (see ``corpus.diff``).

    Rows come in new-edition order; a removed unit is placed right after the row of the nearest preceding old unit
    that survives into the new edition (so removed units keep their old neighbourhood), or at the end if none does.
    """
    olds, news = units(old, kinds), units(new, kinds)
    pairs = align(olds, news)
    by_new = {p.new: p for p in pairs}
    by_old = {p.old: p for p in pairs}

    rows: list[DiffItem] = []
    row_of_new: dict[int, int] = {}
    for j, nu in enumerate(news):
        nc = nu.clause
        p = by_new.get(j)
        if p is None:
            item = DiffItem("added", nc.section, None, 0.0, new_text=nc.text, new_heading=nc.heading)
        else:
            oc = olds[p.old].clause
            same_id = oc.section == nc.section
            inline: list[tuple[InlineOp, str]] = []
            if p.exact:
                change: ChangeKind = "unchanged" if same_id else "renumbered"
            else:
                change = "modified" if same_id else "renumbered+modified"
                inline = inline_diff(oc.text, nc.text)
            item = DiffItem(change, nc.section, oc.section, p.raw, nc.text, oc.text, inline, nc.heading, oc.heading)
        row_of_new[j] = len(rows)
        rows.append(item)

    # Removed units: after the new counterpart of their nearest surviving old predecessor.
    inserts: dict[int, list[DiffItem]] = {}  # row index to insert after (-1: at the end)
    anchor = -1
    for i, ou in enumerate(olds):
        p = by_old.get(i)
        if p is not None:
            anchor = row_of_new[p.new]
            continue
        oc = ou.clause
        removed = DiffItem("removed", None, oc.section, 0.0, old_text=oc.text, old_heading=oc.heading)
        inserts.setdefault(anchor, []).append(removed)
    ordered: list[DiffItem] = []
    for r, item in enumerate(rows):
        ordered.append(item)
        ordered.extend(inserts.get(r, ()))
    ordered.extend(inserts.get(-1, ()))

    return EditionDiff(
        doc_id=new.document.id,
        old_edition=old.document.edition,
        new_edition=new.document.edition,
        items=tuple(ordered),
        old_edition_label=edition_label(old),
        new_edition_label=edition_label(new),
        doc_label=new.document.label,
    )
