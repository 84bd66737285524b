"""Where each saved citation stands in the latest edition, from the edition diff; run after every ingest.

A citation keeps the clause it was saved (or last reviewed) against: document, section, edition and the sha256 of
the clause text. Its standing is a pure function of that and the stored corpus — the diff (``corpus.diff``) from the
saved edition to the latest one, looked up by the saved section:

    unchanged                      → current       (moved to the new edition silently)
    renumbered                     → renumbered    (moved to the new number; the change is shown)
    modified, renumbered+modified  → needs-review  (with the 新旧対照表 row and the new number)
    removed                        → removed       (needs review too)
    text no longer matches hash    → needs-review  (the saved edition itself was re-ingested with other text)

Because it is a pure function, re-checking twice changes nothing, and a re-check over an edition that skipped one
(第1版 → 第3版) is as right as two steps. ``recheck_answers`` is the one function both ingest paths (``regkb ingest``
and the admin upload) call after the store's atomic commit; a failed ingest never reaches it, so answers never
change for an edition that was not stored.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus.answers import AnswerStore, CitationRef, SavedCitation
from corpus.collection import Corpus
from corpus.diff import DEFAULT_KINDS, DiffItem, EditionDiff, diff_editions
from corpus.errors import InvalidAnswer, RegkbError
from corpus.model import Clause, ParsedDocument
from corpus.store import Store

log = logging.getLogger(__name__)

CORPUS_STATE_KEY = "corpus_state"  # meta key: the store state the answers were last checked against


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def diff_item_from_json(row: dict) -> DiffItem:  # type: ignore[type-arg]
    """A stored 新旧対照表 row back as a ``DiffItem`` (for rendering with ``api.render_diff``)."""
    return DiffItem(change=row["change"], new=row.get("new"), old=row.get("old"),
                    similarity=float(row.get("similarity") or 0.0), new_text=row.get("new_text"),
                    old_text=row.get("old_text"), inline=[(r["op"], r["text"]) for r in row.get("inline") or ()],
                    new_heading=row.get("new_heading"), old_heading=row.get("old_heading"))


class Diffs:
    """Edition diffs computed once per (document, old, new, kinds) during one re-check or save."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self._cache: dict[tuple[str, int, int, tuple[str, ...]], EditionDiff] = {}

    def get(self, old: ParsedDocument, new: ParsedDocument, kinds: tuple[str, ...]) -> EditionDiff:
        key = (old.document.id, old.document.edition, new.document.edition, kinds)
        if key not in self._cache:
            self._cache[key] = diff_editions(old, new, kinds=kinds)
        return self._cache[key]


def resolve(corpus: Corpus, ref: CitationRef, position: int = 0) -> SavedCitation:
    """A user's citation as a saved one (hash of the clause text now), checked against the latest edition.
    Unknown document, edition or section → InvalidAnswer naming the citation."""
    try:
        parsed = corpus.get(ref.doc.strip(), ref.edition)
        clause = corpus.clause(ref.doc.strip(), ref.section, parsed.document.edition)
    except RegkbError as e:
        raise InvalidAnswer(f"citation {position + 1}: {e.message}", e.hint) from None
    saved = SavedCitation(doc=clause.doc_id, section=clause.section, edition=clause.edition,
                          text_hash=text_hash(clause.text), citation=clause.citation,
                          current_section=clause.section, current_edition=clause.edition,
                          current_citation=clause.citation, change="unchanged")
    return check(corpus, saved, Diffs(corpus))


def check(corpus: Corpus, c: SavedCitation, diffs: Diffs) -> SavedCitation:
    """Where the saved clause stands in the latest edition of its document (see the module docstring)."""

    def standing(change: str, clause: Clause | None, row: DiffItem | None = None) -> SavedCitation:
        return SavedCitation(doc=c.doc, section=c.section, edition=c.edition, text_hash=c.text_hash,
                             citation=c.citation, current_section=clause.section if clause else None,
                             current_edition=clause.edition if clause else latest_edition,
                             current_citation=clause.citation if clause else None, change=change,
                             diff_row=row.to_json() if row is not None else None)

    try:
        latest = corpus.get(c.doc)
    except RegkbError:  # the document is gone from the store altogether
        latest_edition = c.current_edition
        return standing("removed", None)
    latest_edition = latest.document.edition
    try:
        old = corpus.get(c.doc, c.edition)
    except RegkbError:
        old = None
    old_clause = old.clause(c.section) if old is not None else None
    if old is None or old_clause is None:
        # The saved edition is no longer stored: all that can be said is whether the same section still has the
        # same text in the latest edition.
        same = latest.clause(c.section)
        if same is not None and text_hash(same.text) == c.text_hash:
            return standing("unchanged", same)
        return standing("removed" if same is None else "text-changed", same)
    # The text under the saved number changed within the saved edition (it was re-ingested): review, whatever the
    # diff to the latest edition says about where the clause went.
    hash_ok = text_hash(old_clause.text) == c.text_hash
    if old is latest:
        return standing("unchanged" if hash_ok else "text-changed", old_clause)
    kinds = DEFAULT_KINDS if old_clause.kind in DEFAULT_KINDS else (old_clause.kind,)
    row = next((i for i in diffs.get(old, latest, kinds).items if i.old == c.section), None)
    if row is None or row.change == "removed" or row.new is None:
        return standing("removed", None, row)
    new_clause = latest.clause(row.new)
    if not hash_ok:
        return standing("text-changed", new_clause, row)
    if row.change == "unchanged":
        return standing("unchanged", new_clause)
    return standing(row.change, new_clause, row)


def rebase(corpus: Corpus, c: SavedCitation) -> SavedCitation | None:
    """The citation re-saved against the clause it now points to (what marking an answer reviewed does);
    None for a removed clause."""
    if c.current_section is None:
        return None
    try:
        return resolve(corpus, CitationRef(c.doc, c.current_section, c.current_edition))
    except InvalidAnswer:
        return None


# ---------------------------------------------------------------------------------------------------------------------
# The corpus as of now, loaded once per store state (saves and re-checks in the server need it on every write)

_cache_lock = threading.Lock()
_cache: dict[Path, tuple[str, Corpus]] = {}


def current_corpus(data_dir: Path | str) -> tuple[Corpus, str]:
    """The stored corpus and its state hash; reloaded only when the store has changed."""
    store = Store(data_dir)
    if not store.exists():
        return Corpus([]), ""
    state = store.state_hash()
    key = store.root.resolve()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == state:
            return hit[1], state
    corpus = store.load()
    with _cache_lock:
        _cache[key] = (state, corpus)
    return corpus, state


@dataclass(frozen=True, slots=True)
class RecheckReport:
    checked: int = 0  # answers looked at
    changed: tuple[int, ...] = ()  # ids of answers whose standing changed
    statuses: dict[str, int] = field(default_factory=dict)  # answers per status after the re-check

    def summary(self) -> str:
        parts = [f"{n} {s}" for s, n in self.statuses.items() if n]
        return f"saved answers re-checked: {self.checked} ({', '.join(parts) or 'none'}), {len(self.changed)} changed"


def recheck_answers(data_dir: Path | str, docs: Sequence[str] | None = None) -> RecheckReport:
    """Re-check every saved answer (citing one of ``docs``, when given) against the stored corpus, in one
    transaction. Call after a successful ingest; idempotent. No saved answers: nothing is created."""
    answers = AnswerStore(data_dir)
    if not answers.exists():
        return RecheckReport()
    with answers.transaction() as tx:
        # Loaded inside the write lock: a save that started before an ingest either committed already (and is
        # re-checked here) or waits for this transaction and then sees the new store state.
        corpus, state = current_corpus(data_dir)
        diffs = Diffs(corpus)
        changed: list[int] = []
        by_answer = tx.all_citations(docs)
        for answer_id, citations in by_answer.items():
            new = tuple(check(corpus, c, diffs) for c in citations)
            if new != citations:
                tx.set_citations(answer_id, new, touch=False)
                tx.event(answer_id, "rechecked", {"state": state, "changes": [
                    {"citation": c.citation, "change": c.change, "current": c.current_citation} for c in new]})
                changed.append(answer_id)
        if docs is None:
            tx.set_meta(CORPUS_STATE_KEY, state)
        statuses = Counter(r["status"] for r in tx.conn.execute("SELECT status FROM answers"))
    if changed:
        log.info("re-checked %d saved answers, %d changed", len(by_answer), len(changed))
    return RecheckReport(len(by_answer), tuple(changed), dict(statuses))


def ensure_checked(data_dir: Path | str) -> None:
    """Re-check when the store changed since the last re-check (an ingest by other means, or a process killed
    between the store commit and its re-check); cheap when nothing changed."""
    answers = AnswerStore(data_dir)
    store = Store(data_dir)
    if not answers.exists() or not store.exists():
        return
    if answers.meta(CORPUS_STATE_KEY) != store.state_hash():
        recheck_answers(data_dir)
