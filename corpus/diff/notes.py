"""Short Japanese change notes per section for search results (「第2版で追記」), from the diff or the underlines."""

from __future__ import annotations

from corpus.diff.editions import diff_editions, edition_label
from corpus.model import ParsedDocument


def change_notes(old: ParsedDocument | None, new: ParsedDocument) -> dict[str, str]:
    """New-edition section id → a short Japanese note for search results (「第2版で追記」, 「第2版で番号変更（旧2-9）」).

    Without an old edition, clauses whose text carries underlined (changed) runs get 「第2版で変更（下線部）」:
    Japanese notices underline what changed since the previous edition.
    """
    label = edition_label(new)
    if old is None:
        return {c.section: f"{label}で変更（下線部）" for c in new.clauses if c.changed_spans}
    notes: dict[str, str] = {}
    for item in diff_editions(old, new).items:
        if item.new is None:
            continue
        if item.change == "added":
            notes[item.new] = f"{label}で追記"
        elif item.change in ("modified", "renumbered+modified"):
            notes[item.new] = f"{label}で変更"
        elif item.change == "renumbered":
            notes[item.new] = f"{label}で番号変更（旧{item.old}）"
    return notes
