"""The result of an edition diff: one ``DiffItem`` per row of the 新旧対照表, gathered in an ``EditionDiff``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

ChangeKind = Literal["added", "removed", "unchanged", "modified", "renumbered", "renumbered+modified"]
CHANGE_KINDS: tuple[str, ...] = ("unchanged", "modified", "renumbered", "renumbered+modified", "added", "removed")
InlineOp = Literal["equal", "insert", "delete"]


@dataclass(frozen=True, slots=True)
class DiffItem:
    """One row of the 新旧対照表: a unit of the new edition, of the old one, or a pair of both."""

    change: ChangeKind
    new: str | None  # section id in the new edition (None for "removed")
    old: str | None  # section id in the old edition (None for "added")
    similarity: float  # raw weighted bigram similarity of the pair: 1.0 identical, 0.0 for added/removed
    new_text: str | None = None
    old_text: str | None = None
    inline: list[tuple[InlineOp, str]] = field(default_factory=list)  # old → new character diff, for modified rows
    new_heading: str | None = None
    old_heading: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "new": self.new,
            "old": self.old,
            "similarity": round(self.similarity, 4),
            "new_heading": self.new_heading,
            "old_heading": self.old_heading,
            "new_text": self.new_text,
            "old_text": self.old_text,
            "inline": [{"op": op, "text": text} for op, text in self.inline],
        }


@dataclass(frozen=True, slots=True)
class EditionDiff:
    """The aligned units of two editions of one document, in new-edition order."""

    doc_id: str
    old_edition: int
    new_edition: int
    items: tuple[DiffItem, ...]
    old_edition_label: str | None = None
    new_edition_label: str | None = None
    doc_label: str | None = None

    def counts(self) -> dict[str, int]:
        """Number of rows per change class (every class present, zero or not)."""
        c = Counter(i.change for i in self.items)
        return {k: c.get(k, 0) for k in CHANGE_KINDS}

    @property
    def changed(self) -> tuple[DiffItem, ...]:
        return tuple(i for i in self.items if i.change != "unchanged")

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "old_edition": self.old_edition,
            "new_edition": self.new_edition,
            "old_edition_label": self.old_edition_label,
            "new_edition_label": self.new_edition_label,
            "summary": self.counts(),
            "items": [i.to_json() for i in self.items],
        }
