"""Saved helpdesk answers: SQLite storage (standard library), one short-lived connection per operation.

``<data-dir>/answers.sqlite3`` holds each answer (question, the text sent to the citizen, status) and the clauses it
cites: document, section and edition as saved, the sha256 of the clause text then, and where the clause stands in the
latest edition (``current_section``, ``current_edition``, ``change`` and the 新旧対照表 row). ``corpus.answers_recheck``
computes those; this module only stores them.

Why it is safe with several server threads and a concurrent CLI: WAL (readers never block the writer), a busy
timeout instead of "database is locked", every write one ``BEGIN IMMEDIATE`` transaction (the write lock is taken up
front, so two writers queue instead of deadlocking on a lock upgrade), and a fresh connection per operation (sqlite3
connections are not shared between threads). The schema version is ``PRAGMA user_version``; ``MIGRATIONS`` are
applied in order, each in the transaction that records its number.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.errors import AnswerNotFound, AnswerStoreError, InvalidAnswer
from corpus.fsutil import atomic_output

log = logging.getLogger(__name__)

DB_NAME = "answers.sqlite3"
BUSY_TIMEOUT_S = 15.0

# Per-citation status from the diff class of the cited clause, and the answer status: the worst of its citations.
STATUSES: tuple[str, ...] = ("current", "renumbered", "needs-review", "removed")  # best to worst
REVIEW_STATUSES: tuple[str, ...] = ("renumbered", "needs-review", "removed")  # listed on 「要確認の回答」
CHANGE_STATUS: dict[str, str] = {
    "unchanged": "current",
    "renumbered": "renumbered",
    "modified": "needs-review",
    "renumbered+modified": "needs-review",
    "text-changed": "needs-review",  # the stored clause text no longer matches the hash taken when it was saved
    "removed": "removed",
}

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: answers, their citations, a history of what happened to each answer, key/value metadata
        """CREATE TABLE answers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            question TEXT NOT NULL,
            answer TEXT NOT NULL CHECK (length(answer) > 0),
            status TEXT NOT NULL DEFAULT 'current'
                CHECK (status IN ('current', 'renumbered', 'needs-review', 'removed')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            reviewed_at TEXT,
            note TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE citations (
            answer_id INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            doc TEXT NOT NULL,
            section TEXT NOT NULL,
            edition INTEGER NOT NULL,
            text_hash TEXT NOT NULL,
            citation TEXT NOT NULL,
            current_section TEXT,
            current_edition INTEGER NOT NULL,
            current_citation TEXT,
            change TEXT NOT NULL,
            diff_row TEXT,
            PRIMARY KEY (answer_id, position))""",
        "CREATE INDEX citations_doc ON citations(doc)",
        "CREATE INDEX answers_status ON answers(status)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            answer_id INTEGER NOT NULL,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}')""",
        "CREATE INDEX events_answer ON events(answer_id)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def worst(statuses: Sequence[str]) -> str:
    return max(statuses, key=STATUSES.index, default="current")


# ---------------------------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True, slots=True)
class CitationRef:
    """A clause as a user names it; ``edition`` None means the latest edition."""

    doc: str
    section: str
    edition: int | None = None


@dataclass(frozen=True, slots=True)
class SavedCitation:
    doc: str
    section: str  # as saved (or last reviewed)
    edition: int
    text_hash: str  # sha256 of the clause text in that edition
    citation: str  # 「Q&A（第1版）2-9」
    current_section: str | None  # in the latest edition; None when the clause was removed
    current_edition: int
    current_citation: str | None
    change: str  # unchanged | renumbered | modified | renumbered+modified | removed | text-changed
    diff_row: dict[str, Any] | None = field(default=None, compare=True)  # the 新旧対照表 row (DiffItem.to_json())

    @property
    def status(self) -> str:
        return CHANGE_STATUS[self.change]

    def to_json(self) -> dict[str, Any]:
        return {"doc": self.doc, "section": self.section, "edition": self.edition, "text_hash": self.text_hash,
                "citation": self.citation, "current_section": self.current_section,
                "current_edition": self.current_edition, "current_citation": self.current_citation,
                "change": self.change, "status": self.status, "diff_row": self.diff_row}


@dataclass(frozen=True, slots=True)
class SavedAnswer:
    id: int
    question: str
    answer: str
    status: str
    created_at: str
    updated_at: str
    reviewed_at: str | None
    note: str
    citations: tuple[SavedCitation, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "answer": self.answer, "status": self.status,
                "created_at": self.created_at, "updated_at": self.updated_at, "reviewed_at": self.reviewed_at,
                "note": self.note, "citations": [c.to_json() for c in self.citations]}


@dataclass(frozen=True, slots=True)
class AnswerDraft:
    """An answer as a user gives it, before its citations are resolved against the corpus."""

    question: str
    answer: str
    citations: tuple[CitationRef, ...]
    note: str = ""
    created_at: str | None = None  # kept on import


@dataclass(frozen=True, slots=True)
class Limits:
    max_question_chars: int = 2000
    max_answer_chars: int = 10000
    max_note_chars: int = 2000
    max_citations: int = 20
    max_section_chars: int = 64


def check_text(name: str, value: str, limit: int, *, required: bool) -> str:
    """``value`` stripped, or InvalidAnswer when empty (if required) or over ``limit`` characters."""
    if not isinstance(value, str):
        raise InvalidAnswer(f"{name} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidAnswer(f"{name} is empty", f"give the {name} text")
    if len(value) > limit:
        raise InvalidAnswer(f"{name} is {len(value)} characters, over the limit of {limit}",
                            f"shorten the {name}")
    if "\x00" in value:
        raise InvalidAnswer(f"{name} contains a NUL character")
    return value


def check_draft(draft: AnswerDraft, limits: Limits) -> AnswerDraft:
    """The draft with its texts stripped; InvalidAnswer for anything that would not be a usable saved answer."""
    if not draft.citations:
        raise InvalidAnswer("an answer needs at least one cited clause", 'give citations: [{"doc", "section"}]')
    if len(draft.citations) > limits.max_citations:
        raise InvalidAnswer(f"{len(draft.citations)} citations, over the limit of {limits.max_citations}")
    for i, c in enumerate(draft.citations):
        if not c.doc.strip() or not c.section.strip() or len(c.section) > limits.max_section_chars:
            raise InvalidAnswer(f"citation {i + 1} needs a document id and a section id (at most "
                                f"{limits.max_section_chars} characters)")
    return AnswerDraft(
        question=check_text("question", draft.question, limits.max_question_chars, required=True),
        answer=check_text("answer", draft.answer, limits.max_answer_chars, required=True),
        citations=draft.citations,
        note=check_text("note", draft.note or "", limits.max_note_chars, required=False),
        created_at=draft.created_at,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Storage


class Tx:
    """The operations of one write transaction (``AnswerStore.transaction()``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # reads inside the transaction
    def get(self, answer_id: int) -> SavedAnswer:
        row = self.conn.execute("SELECT * FROM answers WHERE id = ?", (answer_id,)).fetchone()
        if row is None:
            raise AnswerNotFound(f"no saved answer {answer_id}", "list them with GET /answers or `regkb answers list`")
        return _answer(row, self.citations(answer_id))

    def citations(self, answer_id: int) -> tuple[SavedCitation, ...]:
        rows = self.conn.execute("SELECT * FROM citations WHERE answer_id = ? ORDER BY position", (answer_id,))
        return tuple(_citation(r) for r in rows)

    def all_citations(self, docs: Sequence[str] | None = None) -> dict[int, tuple[SavedCitation, ...]]:
        """Every answer's citations (of answers citing one of ``docs``, when given), by answer id."""
        sql = "SELECT * FROM citations"
        args: tuple[Any, ...] = ()
        if docs is not None:
            marks = ",".join("?" * len(docs))
            sql += f" WHERE answer_id IN (SELECT answer_id FROM citations WHERE doc IN ({marks}))"
            args = tuple(docs)
        out: dict[int, list[SavedCitation]] = {}
        for r in self.conn.execute(sql + " ORDER BY answer_id, position", args):
            out.setdefault(r["answer_id"], []).append(_citation(r))
        return {k: tuple(v) for k, v in out.items()}

    def citations_of(self, ids: Sequence[int]) -> dict[int, tuple[SavedCitation, ...]]:
        out: dict[int, list[SavedCitation]] = {}
        for start in range(0, len(ids), 500):  # well under SQLite's limit on bound variables
            chunk = ids[start : start + 500]
            rows = self.conn.execute(f"SELECT * FROM citations WHERE answer_id IN ({','.join('?' * len(chunk))}) "
                                     "ORDER BY answer_id, position", chunk)
            for r in rows:
                out.setdefault(r["answer_id"], []).append(_citation(r))
        return {k: tuple(v) for k, v in out.items()}

    def status(self, answer_id: int) -> str | None:
        row = self.conn.execute("SELECT status FROM answers WHERE id = ?", (answer_id,)).fetchone()
        return row["status"] if row else None

    # writes
    def insert(self, draft: AnswerDraft, citations: Sequence[SavedCitation]) -> int:
        t = now()
        cur = self.conn.execute(
            "INSERT INTO answers (question, answer, status, created_at, updated_at, note) VALUES (?, ?, ?, ?, ?, ?)",
            (draft.question, draft.answer, worst([c.status for c in citations]), draft.created_at or t, t,
             draft.note))
        answer_id = int(cur.lastrowid or 0)
        self._put_citations(answer_id, citations)
        self.event(answer_id, "created", {"citations": [c.citation for c in citations]})
        return answer_id

    def update(self, answer_id: int, *, question: str | None = None, answer: str | None = None,
               note: str | None = None, reviewed: bool = False) -> None:
        self.get(answer_id)  # 404 before anything changes
        sets, args = ["updated_at = ?"], [now()]
        for column, value in (("question", question), ("answer", answer), ("note", note)):
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        if reviewed:
            sets.append("reviewed_at = ?")
            args.append(args[0])
        self.conn.execute(f"UPDATE answers SET {', '.join(sets)} WHERE id = ?", (*args, answer_id))

    def set_citations(self, answer_id: int, citations: Sequence[SavedCitation], *, touch: bool = True) -> None:
        """Replace the citations and set the answer's status to the worst of theirs."""
        self.conn.execute("DELETE FROM citations WHERE answer_id = ?", (answer_id,))
        self._put_citations(answer_id, citations)
        status = worst([c.status for c in citations])
        if touch:
            self.conn.execute("UPDATE answers SET status = ?, updated_at = ? WHERE id = ?", (status, now(), answer_id))
        else:  # a re-check changes what the corpus says about the answer, not the answer
            self.conn.execute("UPDATE answers SET status = ? WHERE id = ?", (status, answer_id))

    def delete(self, answer_id: int) -> None:
        saved = self.get(answer_id)
        self.conn.execute("DELETE FROM answers WHERE id = ?", (answer_id,))  # citations go with it (ON DELETE CASCADE)
        self.event(answer_id, "deleted", saved.to_json())  # the history keeps what was deleted

    def event(self, answer_id: int, kind: str, detail: dict[str, Any] | None = None) -> None:
        self.conn.execute("INSERT INTO events (answer_id, at, kind, detail) VALUES (?, ?, ?, ?)",
                          (answer_id, now(), kind, json.dumps(detail or {}, ensure_ascii=False)))

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                          (key, value))

    def _put_citations(self, answer_id: int, citations: Sequence[SavedCitation]) -> None:
        self.conn.executemany(
            "INSERT INTO citations (answer_id, position, doc, section, edition, text_hash, citation, current_section, "
            "current_edition, current_citation, change, diff_row) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(answer_id, i, c.doc, c.section, c.edition, c.text_hash, c.citation, c.current_section,
              c.current_edition, c.current_citation, c.change,
              json.dumps(c.diff_row, ensure_ascii=False) if c.diff_row is not None else None)
             for i, c in enumerate(citations)])


def _citation(r: sqlite3.Row) -> SavedCitation:
    return SavedCitation(doc=r["doc"], section=r["section"], edition=r["edition"], text_hash=r["text_hash"],
                         citation=r["citation"], current_section=r["current_section"],
                         current_edition=r["current_edition"], current_citation=r["current_citation"],
                         change=r["change"], diff_row=json.loads(r["diff_row"]) if r["diff_row"] else None)


def _answer(r: sqlite3.Row, citations: tuple[SavedCitation, ...]) -> SavedAnswer:
    return SavedAnswer(id=r["id"], question=r["question"], answer=r["answer"], status=r["status"],
                       created_at=r["created_at"], updated_at=r["updated_at"], reviewed_at=r["reviewed_at"],
                       note=r["note"], citations=citations)


class AnswerStore:
    """The saved answers of one data directory. Cheap to create; holds no connection between operations."""

    def __init__(self, data_dir: Path | str, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(data_dir) / DB_NAME
        self.busy_timeout_s = busy_timeout_s

    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        except sqlite3.Error as e:
            raise AnswerStoreError(f"cannot open {self.path}: {e}", "check the data directory's permissions") from e
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._migrate(conn)
            yield conn
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                raise AnswerStoreError(f"{self.path} stayed locked for {self.busy_timeout_s:.0f} s",
                                       "another process holds a long write; try again") from e
            if isinstance(e, (sqlite3.IntegrityError, sqlite3.OperationalError)):
                raise
            raise AnswerStoreError(f"{self.path} is not a usable database: {e}",
                                   f"restore it from a backup (`regkb answers backup`) or move it aside") from e
        finally:
            conn.close()

    def _to_wal(self, conn: sqlite3.Connection) -> str:
        """Switch to WAL (persistent; outside any transaction). The switch takes an exclusive lock for which SQLite
        does not call the busy handler: a connection opening a new database while another creates it got "locked" at
        once (3–10 in 150 trials of six threads), so it is retried here until the busy timeout."""
        deadline, delay = time.monotonic() + self.busy_timeout_s, 0.005
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(2 * delay, 0.1)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        mode = self._to_wal(conn)
        if mode != "wal":
            log.warning("%s: journal mode %s, not wal", self.path, mode)
        conn.execute("BEGIN IMMEDIATE")  # two processes creating the database at once: one migrates, one waits
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise AnswerStoreError(f"{self.path} has schema version {version}, newer than this regkb "
                                       f"({SCHEMA_VERSION})", "upgrade regkb")
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
                log.info("%s: schema migrated to version %d", self.path, number + 1)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction: everything inside commits together or not at all."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Tx]:
        """A read transaction: several reads see one consistent state (never use its write methods)."""
        with self._connect() as conn:
            conn.execute("BEGIN")
            try:
                yield Tx(conn)
            finally:
                conn.execute("ROLLBACK")

    # -- reads -------------------------------------------------------------------------------------------------------

    def get(self, answer_id: int) -> SavedAnswer:
        with self.snapshot() as tx:
            return tx.get(answer_id)

    def list(self, status: Sequence[str] | None = None, q: str | None = None, limit: int = 1000,
             offset: int = 0) -> list[SavedAnswer]:
        """Answers, newest first; ``status`` keeps those statuses, ``q`` those whose question, answer or note
        contains it (case-insensitive for ASCII)."""
        sql, args = "SELECT * FROM answers WHERE 1 = 1", []
        if status:
            unknown = [s for s in status if s not in STATUSES]
            if unknown:
                raise InvalidAnswer(f"unknown status {unknown[0]!r}", f"one of {', '.join(STATUSES)}")
            sql += f" AND status IN ({','.join('?' * len(status))})"
            args += list(status)
        if q:
            sql += " AND (instr(lower(question), lower(?)) OR instr(lower(answer), lower(?)) OR instr(lower(note), lower(?)))"
            args += [q, q, q]
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        args += [max(0, min(limit, 2**62)), max(0, min(offset, 2**62))]
        if not self.exists():
            return []
        with self.snapshot() as tx:
            rows = tx.conn.execute(sql, args).fetchall()
            cites = tx.citations_of([r["id"] for r in rows])
            return [_answer(r, cites.get(r["id"], ())) for r in rows]

    def counts(self) -> dict[str, int]:
        """Number of answers per status (every status present)."""
        out = dict.fromkeys(STATUSES, 0)
        if not self.exists():  # a read never creates the database
            return out
        with self.snapshot() as tx:
            for r in tx.conn.execute("SELECT status, count(*) AS n FROM answers GROUP BY status"):
                out[r["status"]] = r["n"]
        return out

    def needing_review(self) -> int:
        c = self.counts()
        return sum(c[s] for s in REVIEW_STATUSES)

    def events(self, answer_id: int) -> list[dict[str, Any]]:
        with self.snapshot() as tx:
            rows = tx.conn.execute("SELECT * FROM events WHERE answer_id = ? ORDER BY id", (answer_id,)).fetchall()
        return [{"at": r["at"], "kind": r["kind"], "detail": json.loads(r["detail"])} for r in rows]

    def meta(self, key: str) -> str | None:
        if not self.exists():
            return None
        with self.snapshot() as tx:
            row = tx.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    # -- writes that need no corpus ------------------------------------------------------------------------------------

    def delete(self, answer_id: int) -> None:
        with self.transaction() as tx:
            tx.delete(answer_id)

    def backup(self, dest: Path | str) -> Path:
        """A consistent copy (sqlite3's online backup: a snapshot even while others write), written aside and then
        moved into place, so ``dest`` is never a half-written database."""
        dest = Path(dest)
        if dest.is_dir() or not dest.suffix:  # a folder (existing or to be made): a dated file inside it
            dest = dest / f"answers-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}.sqlite3"
        if dest.resolve() == self.path.resolve():
            raise AnswerStoreError("the backup would overwrite the database itself", "give another path")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(dest, prefix=".tmp-backup-") as tmp, self._connect() as src:
            target = sqlite3.connect(tmp)
            try:
                src.backup(target)
                target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
            finally:
                target.close()
        return dest
