"""Edition notes for search results (「第2版で追記」 …), computed once at build time from the edition diff."""

from __future__ import annotations

from corpus.collection import Corpus
from corpus.diff import change_notes


def change_notes_for(corpus: Corpus) -> dict[str, str]:
    """clause key -> note, for every edition that has a previous edition (or underline marks)."""
    notes: dict[str, str] = {}
    for doc_id in corpus.doc_ids:
        editions = corpus.editions(doc_id)
        prev = None
        for parsed in editions:
            for section, note in change_notes(prev, parsed).items():
                notes[f"{doc_id}@{parsed.document.edition}#{section}"] = note
            prev = parsed
    return notes
