"""The writes that need the corpus: save, edit, review and import answers, each in one transaction.

Citations are resolved (clause found, text hashed, standing checked) against the corpus loaded *inside* the write
transaction, so a save racing an ingest is either re-checked by that ingest or sees the new edition itself. Any bad
input raises before the transaction commits: nothing is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from corpus.answers import AnswerDraft, AnswerStore, CitationRef, Limits, SavedAnswer, SavedCitation, check_draft, check_text
from corpus.answers_recheck import Diffs, check, current_corpus, rebase, resolve
from corpus.errors import InvalidAnswer

log = logging.getLogger(__name__)


def _resolve_all(data_dir: Path | str, refs: Sequence[CitationRef]) -> list[SavedCitation]:
    corpus, _ = current_corpus(data_dir)
    return [resolve(corpus, r, i) for i, r in enumerate(refs)]


def save(data_dir: Path | str, draft: AnswerDraft, limits: Limits = Limits()) -> SavedAnswer:
    draft = check_draft(draft, limits)
    with AnswerStore(data_dir).transaction() as tx:
        answer_id = tx.insert(draft, _resolve_all(data_dir, draft.citations))
        return tx.get(answer_id)


def import_drafts(data_dir: Path | str, drafts: Sequence[AnswerDraft], limits: Limits = Limits(),
                  hashes: Sequence[Sequence[str | None]] | None = None) -> list[int]:
    """Save every draft or none. ``hashes`` (per draft, per citation; from an export) are kept when given, so an
    answer saved against other text than this corpus holds comes in as needs-review, not silently current."""
    checked = []
    for n, d in enumerate(drafts, start=1):
        try:
            checked.append(check_draft(d, limits))
        except InvalidAnswer as e:
            raise InvalidAnswer(f"answer {n}: {e.message}", e.hint) from None
    ids = []
    with AnswerStore(data_dir).transaction() as tx:
        corpus, _ = current_corpus(data_dir)
        diffs = Diffs(corpus)
        for n, d in enumerate(checked):
            try:
                cites = [resolve(corpus, r, i) for i, r in enumerate(d.citations)]
            except InvalidAnswer as e:
                raise InvalidAnswer(f"answer {n + 1}: {e.message}", e.hint) from None
            given = list(hashes[n]) if hashes and n < len(hashes) else []
            for i, h in enumerate(given[: len(cites)]):
                if h and h != cites[i].text_hash:
                    cites[i] = check(corpus, replace(cites[i], text_hash=h), diffs)
            ids.append(tx.insert(d, cites))
            tx.event(ids[-1], "imported")
    return ids


def edit(data_dir: Path | str, answer_id: int, *, question: str | None = None, answer: str | None = None,
         note: str | None = None, citations: Sequence[CitationRef] | None = None,
         limits: Limits = Limits()) -> SavedAnswer:
    """Change what is given; new citations are resolved against the latest corpus (their standing recomputed)."""
    q = check_text("question", question, limits.max_question_chars, required=True) if question is not None else None
    a = check_text("answer", answer, limits.max_answer_chars, required=True) if answer is not None else None
    nt = check_text("note", note, limits.max_note_chars, required=False) if note is not None else None
    if citations is not None:
        check_draft(AnswerDraft("-", "-", tuple(citations)), limits)
    with AnswerStore(data_dir).transaction() as tx:
        before = tx.get(answer_id)
        tx.update(answer_id, question=q, answer=a, note=nt)
        if citations is not None:
            tx.set_citations(answer_id, _resolve_all(data_dir, citations))
        tx.event(answer_id, "edited", {"before": before.to_json()})
        return tx.get(answer_id)


def review(data_dir: Path | str, answer_id: int, *, answer: str | None = None,
           citations: Sequence[CitationRef] | None = None, limits: Limits = Limits()) -> SavedAnswer:
    """Mark an answer reviewed: optionally with a new text and new citations; otherwise each citation is re-saved
    against the clause it now points to (new number, new edition, new text hash), and removed clauses are dropped
    (the history keeps them). An answer whose every clause was removed needs new citations."""
    a = check_text("answer", answer, limits.max_answer_chars, required=True) if answer is not None else None
    if citations is not None:
        check_draft(AnswerDraft("-", "-", tuple(citations)), limits)
    with AnswerStore(data_dir).transaction() as tx:
        before = tx.get(answer_id)
        if citations is not None:
            new = _resolve_all(data_dir, citations)
        else:
            corpus, _ = current_corpus(data_dir)
            new = [r for r in (rebase(corpus, c) for c in before.citations) if r is not None]
            if not new:
                raise InvalidAnswer(f"every clause answer {answer_id} cites was removed",
                                    "give the clauses that now govern the answer as citations")
        tx.update(answer_id, answer=a, reviewed=True)
        tx.set_citations(answer_id, new)
        tx.event(answer_id, "reviewed", {"before": before.to_json()})
        return tx.get(answer_id)
