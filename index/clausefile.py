"""A build's clauses, read when they are asked for instead of all at load.

A build of the statute archive holds ~800k clauses (clauses.jsonl: 630 MiB); parsed into ``Clause`` objects at
load they made the server's start slow and its memory gigabytes. The build writes where each line starts, so a
served build keeps only arrays: an edition's clauses are parsed when a page, a citation or an answer line needs
them (kept in a bounded cache), and a search row's clause alone when only it is needed.

The files of a build (index/build.py writes them; clause ids number the lines of clauses.jsonl from 0)::

    clauses.jsonl          one Clause.to_json() per line: editions in documents.json order, each edition's
                           clauses in document order
    clauses.offsets.npy    int64, n+1: the byte where line i starts; the last is the file's size
    clauses.editions.npy   int64, editions+1: the id of each edition's first clause (documents.json order); the
                           last is n
    clauses.keys.npy       uint64, n: a hash of each clause's key "doc@edition#section" (key_hash), so that a
                           clause is found by its section without reading its edition
    rows.jsonl             per search row: its clause's "key", and its "clause" id and "parent" section

A build made before the offsets existed loads too: one scan of clauses.jsonl finds the lines and reads the first
fields of each (doc, edition, section, parent; the text is not parsed), with a warning.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from corpus.collection import Corpus
from corpus.errors import IndexMismatch
from corpus.model import Clause, Document, LazyParsedDocument, ParsedDocument
from index.fastjson import loads

log = logging.getLogger(__name__)

CLAUSES_FILE = "clauses.jsonl"
ROWS_FILE = "rows.jsonl"
OFFSETS_FILE = "clauses.offsets.npy"
EDITIONS_FILE = "clauses.editions.npy"
KEYS_FILE = "clauses.keys.npy"
# Parsed clauses kept (whole editions, least recently used dropped first; the last one read is always kept). ~1 KiB
# each in memory: ~50 MiB. A build that fits (the bundled documents: a few thousand clauses) is parsed whole at load,
# as before: its first queries do not wait for the clauses they touch.
CACHE_CLAUSES = 50_000
# Search rows' clauses kept one by one (the features read a candidate's clause several times per query): ~32 MiB.
CACHE_ROWS = 32_768
_CHUNK = 32 * 2**20  # the scan of an old build reads this much at a time
_HINT = "the build is damaged or incomplete: rebuild it with `regkb build`"

# The first fields of a line as Clause.to_json() and json.dumps write them (the order of the dataclass's fields).
_STR = rb'"([^"\\]*(?:\\.[^"\\]*)*)"'
_PREFIX = re.compile(rb'\{"doc_id": ' + _STR + rb', "edition": (-?\d+), "section": ' + _STR
                     + rb', "kind": "[^"\\]*", "parent": (?:null|' + _STR + rb'),')


def key_hash(key: str) -> int:
    """A clause key's 64-bit hash, the same in every process (clauses.keys.npy)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode("utf-8")


@dataclass(frozen=True, slots=True)
class RowTable:
    """Per search row: its clause id, its edition (index into the build's documents) and whether another row is
    its child; what the searcher needs for every row at load, without the clauses."""

    clause: np.ndarray  # int64
    edition: np.ndarray  # int64
    is_parent: np.ndarray  # bool


class ClauseFile:
    """clauses.jsonl of one build, read with pread (thread-safe, and the open file outlives a swapped-out build)."""

    def __init__(self, path: Path, offsets: np.ndarray, edition_starts: np.ndarray, documents: Sequence[Document],
                 key_hashes: np.ndarray, cache_clauses: int = CACHE_CLAUSES) -> None:
        self.path = Path(path)
        self.offsets = offsets
        self.starts = edition_starts
        self._starts = edition_starts.tolist()  # bisect on a list: a fraction of np.searchsorted's cost per call
        self.documents = list(documents)
        order = np.argsort(key_hashes, kind="stable")  # equal hashes keep file order: the first clause first
        self._hashes = key_hashes[order]
        self._ids = order.astype(np.int32 if len(order) < 2**31 else np.int64)
        self.cache_clauses = cache_clauses
        self._fd = os.open(self.path, os.O_RDONLY)
        self._cache: OrderedDict[int, tuple[Clause, ...]] = OrderedDict()
        self._cached = 0  # clauses in the cache
        self._lock = threading.Lock()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def count(self, e: int) -> int:
        return int(self.starts[e + 1] - self.starts[e])

    def edition_of(self, i: int) -> int:
        return bisect.bisect_right(self._starts, i) - 1

    def _read(self, first: int, end: int) -> bytes:
        start, stop = int(self.offsets[first]), int(self.offsets[end])
        try:
            data = os.pread(self._fd, stop - start, start)
        except OSError as e:
            raise IndexMismatch(f"{self.path} cannot be read ({e})", _HINT) from None
        if len(data) != stop - start:
            raise IndexMismatch(f"{self.path} is shorter than when it was loaded (clause {first})", _HINT)
        return data

    def _parse(self, line: bytes, i: int, e: int) -> Clause:
        d = self.documents[e]
        try:
            c = Clause.from_json(loads(line))
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise IndexMismatch(f"{self.path}: line {i + 1} is not a clause ({type(err).__name__}: {err})",
                                _HINT) from None
        if c.doc_id != d.id or c.edition != d.edition:
            raise IndexMismatch(f"{self.path}: line {i + 1} is a clause of {c.doc_id}@{c.edition}, where the build's "
                                f"offsets put {d.key}", _HINT)
        return c

    def edition(self, e: int) -> tuple[Clause, ...]:
        """The clauses of edition ``e`` (documents.json order), parsed once and kept while the cache has room."""
        with self._lock:
            got = self._cache.get(e)
            if got is not None:
                self._cache.move_to_end(e)
                return got
        first, end = int(self.starts[e]), int(self.starts[e + 1])
        lines = self._read(first, end).split(b"\n")
        if len(lines) != end - first + 1 or lines[-1]:
            raise IndexMismatch(f"{self.path}: the lines of {self.documents[e].key} are not where the build's "
                                "offsets put them", _HINT)
        clauses = tuple(self._parse(line, first + j, e) for j, line in enumerate(lines[:-1]))
        with self._lock:
            if e not in self._cache:
                self._cache[e] = clauses
                self._cached += len(clauses)
                while self._cached > self.cache_clauses and len(self._cache) > 1:
                    _, dropped = self._cache.popitem(last=False)
                    self._cached -= len(dropped)
            return self._cache[e]

    def clause(self, i: int) -> Clause:
        """Clause ``i``: from its edition when that is parsed, else its line alone (the edition is not read)."""
        if not 0 <= i < len(self):
            raise IndexError(f"clause {i} out of range")
        e = self.edition_of(i)
        got = self._cache.get(e)  # one dictionary read: atomic, no lock needed
        if got is not None:
            return got[i - self._starts[e]]
        line = self._read(i, i + 1)
        if not line.endswith(b"\n"):
            raise IndexMismatch(f"{self.path}: line {i + 1} is not where the build's offsets put it", _HINT)
        return self._parse(line[:-1], i, e)

    def find(self, e: int, section: str) -> Clause | None:
        """The first clause of edition ``e`` with this section (as ParsedDocument.clause), read alone when the
        edition is not parsed."""
        found = self._with_section(e, section, last=False)
        return None if found is None else found[1]

    def position(self, e: int, section: str) -> int | None:
        """The position in edition ``e`` of the last clause with this section (as a section -> position dict of the
        edition would say), without reading the edition."""
        found = self._with_section(e, section, last=True)
        return None if found is None else found[0]

    def _with_section(self, e: int, section: str, last: bool) -> tuple[int, Clause] | None:
        """(position in the edition, clause) of the first or last clause of edition ``e`` with this section. By the
        section hashes even when the edition is parsed: scanning its clauses took 39 µs a lookup on the bundled build
        against 8 µs."""
        d = self.documents[e]
        h = np.uint64(key_hash(f"{d.key}#{section}"))
        lo, hi = np.searchsorted(self._hashes, h, side="left"), np.searchsorted(self._hashes, h, side="right")
        first, end = int(self.starts[e]), int(self.starts[e + 1])
        ids = [i for i in self._ids[lo:hi].tolist() if first <= i < end]  # file order: equal hashes kept it
        for i in (reversed(ids) if last else ids):
            c = self.clause(i)
            if c.section == section:
                return i - first, c
        return None

    def preload(self) -> None:
        """Parse every edition now (a build whose clauses all fit in the cache)."""
        for e in range(len(self.documents)):
            self.edition(e)

    def corpus(self) -> Corpus:
        """The build's corpus, each edition's clauses read on demand."""
        loaders = [_EditionLoader(self, e) for e in range(len(self.documents))]
        return Corpus(LazyParsedDocument(d, loader, self.count(e), loader.find, at=loader.at,
                                         position=loader.position)
                      for e, (d, loader) in enumerate(zip(self.documents, loaders)))


class _EditionLoader:
    __slots__ = ("file", "e")

    def __init__(self, file: ClauseFile, e: int) -> None:
        self.file, self.e = file, e

    def __call__(self) -> tuple[Clause, ...]:
        return self.file.edition(self.e)

    def find(self, section: str) -> Clause | None:
        return self.file.find(self.e, section)

    def position(self, section: str) -> int | None:
        return self.file.position(self.e, section)

    def at(self, local: int) -> Clause:
        if not 0 <= local < self.file.count(self.e):
            raise IndexError(f"clause {local} out of range")
        return self.file.clause(int(self.file.starts[self.e]) + local)


class ClauseRows(Sequence[Clause]):
    """``Searcher.rows``: row i's Clause, read when asked for."""

    def __init__(self, file: ClauseFile, ids: np.ndarray, cache_rows: int = CACHE_ROWS) -> None:
        self.file = file
        self.ids = ids
        self.cache_rows = cache_rows
        self._cache: dict[int, Clause] = {}  # row -> clause, the oldest dropped first when full

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> Clause: ...

    @overload
    def __getitem__(self, i: slice) -> list[Clause]: ...

    def __getitem__(self, i: int | slice) -> Clause | list[Clause]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        got = self._cache.get(i)
        if got is not None:
            return got
        row = int(i)
        if row < 0:
            row += len(self.ids)
        if not 0 <= row < len(self.ids):
            raise IndexError(f"row {i} out of range")
        c = self.file.clause(int(self.ids[row]))
        cache = self._cache
        if len(cache) >= self.cache_rows:
            cache.pop(next(iter(cache), None), None)  # type: ignore[arg-type]
        cache[row] = c
        return c

    def __iter__(self) -> Iterator[Clause]:  # every row, without filling the cache
        for j in self.ids.tolist():
            yield self.file.clause(j)


# -- writing (index/build.py) ---------------------------------------------------------------------------------------


def write_clauses(directory: Path, corpus: Iterable[ParsedDocument], rows: Sequence[Clause]) -> None:
    """clauses.jsonl with its offsets and edition starts, and rows.jsonl, into a build directory."""
    directory = Path(directory)
    offsets: list[int] = [0]
    starts: list[int] = [0]
    hashes: list[int] = []
    ids: dict[str, int] = {}  # key -> clause id; a key that repeats names its last clause
    pos = 0
    with open(directory / CLAUSES_FILE, "wb") as f:
        for p in corpus:
            for c in p.clauses:
                line = (json.dumps(c.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
                f.write(line)
                ids[c.key] = len(offsets) - 1
                hashes.append(key_hash(c.key))
                pos += len(line)
                offsets.append(pos)
            starts.append(len(offsets) - 1)
    np.save(directory / OFFSETS_FILE, np.asarray(offsets, dtype=np.int64), allow_pickle=False)
    np.save(directory / EDITIONS_FILE, np.asarray(starts, dtype=np.int64), allow_pickle=False)
    np.save(directory / KEYS_FILE, np.asarray(hashes, dtype=np.uint64), allow_pickle=False)
    with open(directory / ROWS_FILE, "w", encoding="utf-8") as f:
        for c in rows:
            f.write(json.dumps({"key": c.key, "clause": ids[c.key], "parent": c.parent}, ensure_ascii=False) + "\n")


# -- loading --------------------------------------------------------------------------------------------------------


def load_clauses(build: Path, documents: Sequence[Document], cache_clauses: int = CACHE_CLAUSES,
                 preload: bool | None = None) -> tuple[ClauseFile, RowTable]:
    """The build's clauses (read on demand) and its rows' table. Raises IndexMismatch when the files do not fit
    together (a truncated clauses.jsonl, offsets of another build, a row whose clause is missing).
    ``preload``: parse every clause now; default, when they all fit in the cache."""
    build = Path(build)
    path = build / CLAUSES_FILE
    row_lines = [loads(line) for line in (build / ROWS_FILE).read_bytes().splitlines() if line.strip()]
    have = all((build / name).exists() for name in (OFFSETS_FILE, EDITIONS_FILE, KEYS_FILE))
    if have and all("clause" in r for r in row_lines):
        try:
            offsets = np.load(build / OFFSETS_FILE, allow_pickle=False)
            starts = np.load(build / EDITIONS_FILE, allow_pickle=False)
            hashes = np.load(build / KEYS_FILE, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise IndexMismatch(f"the clause offsets of {build.name} cannot be read ({e})", _HINT) from None
        _check(path, offsets, starts, documents)
        if hashes.shape != (len(offsets) - 1,) or hashes.dtype != np.uint64:
            raise IndexMismatch(f"{KEYS_FILE} of {build.name} does not have one key per clause", _HINT)
        row_clause = np.fromiter((r["clause"] for r in row_lines), dtype=np.int64, count=len(row_lines))
        parents: list[str | None] = [r.get("parent") for r in row_lines]
    else:
        log.warning("index build %s has no clause offsets (built before %s existed): scanning %s once; "
                    "`regkb build` writes them", build.name, OFFSETS_FILE, CLAUSES_FILE)
        started = time.perf_counter()
        offsets, starts, hashes, row_clause, parents = _scan(path, documents, [r["key"] for r in row_lines])
        log.info("scanned %s (%d clauses) in %.1f s", path, len(offsets) - 1, time.perf_counter() - started)
    n = len(offsets) - 1
    if len(row_clause) and (row_clause.min() < 0 or row_clause.max() >= n):
        raise IndexMismatch(f"{build / ROWS_FILE} names clauses that {CLAUSES_FILE} does not have", _HINT)
    row_edition = np.searchsorted(starts, row_clause, side="right").astype(np.int64) - 1
    keys = [d.key for d in documents]
    sections: list[str] = []
    for r, e in zip(row_lines, row_edition.tolist()):
        key, head = r["key"], keys[e] + "#"
        if not key.startswith(head):
            raise IndexMismatch(f"{build / ROWS_FILE}: row {key!r} is not a clause of {keys[e]}", _HINT)
        sections.append(key[len(head):])
    # A row is a parent when another row's parent section names it in its edition (index/features.py, RowFacts)
    wanted = {(keys[e], p) for e, p in zip(row_edition.tolist(), parents) if p}
    is_parent = np.fromiter(((keys[e], s) in wanted for e, s in zip(row_edition.tolist(), sections)), dtype=bool,
                            count=len(sections))
    file = ClauseFile(path, offsets, starts, documents, hashes, cache_clauses)
    if preload if preload is not None else n <= cache_clauses:
        file.preload()
    return file, RowTable(row_clause, row_edition, is_parent)


def _check(path: Path, offsets: np.ndarray, starts: np.ndarray, documents: Sequence[Document]) -> None:
    """The offsets fit the file and the documents: cheap checks at load, so a damaged build fails here and not on a
    query (the lines themselves are checked when they are parsed)."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise IndexMismatch(f"{path} cannot be read ({e})", _HINT) from None
    if offsets.ndim != 1 or starts.ndim != 1 or len(offsets) == 0 or offsets.dtype.kind != "i" \
            or starts.dtype.kind != "i":
        raise IndexMismatch(f"the clause offsets of {path.parent.name} are not int arrays", _HINT)
    n = len(offsets) - 1
    if offsets[0] != 0 or int(offsets[-1]) != size:
        raise IndexMismatch(f"{path} is {size} bytes but the build's offsets end at {int(offsets[-1])} (truncated "
                            "or replaced)", _HINT)
    if n and not (np.diff(offsets) > 0).all():
        raise IndexMismatch(f"the clause offsets of {path.parent.name} are not increasing", _HINT)
    if len(starts) != len(documents) + 1 or starts[0] != 0 or starts[-1] != n or (np.diff(starts) < 0).any():
        raise IndexMismatch(f"the edition starts of {path.parent.name} do not fit its {len(documents)} documents "
                            f"and {n} clauses", _HINT)
    # Each edition's first line is one line and names that edition: a few hundred bytes read per edition.
    with open(path, "rb") as f:
        for e, d in enumerate(documents):
            first = int(starts[e])
            if first == int(starts[e + 1]):
                continue
            start, end = int(offsets[first]), int(offsets[first + 1])
            f.seek(end - 1)
            newline = f.read(1)
            f.seek(start)
            head = f.read(min(end - start, 512))
            m = _PREFIX.match(head)
            if newline != b"\n" or m is None or _text(m.group(1)) != d.id or int(m.group(2)) != d.edition:
                raise IndexMismatch(f"{path}: line {first + 1} is not the first clause of {d.key}, as the build's "
                                    "offsets say", _HINT)


def _scan(path: Path, documents: Sequence[Document],
          row_keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str | None]]:
    """Offsets, edition starts, key hashes, row clause ids and row parents of a build without offsets: one pass over
    the lines,
    reading only their first fields (a line that does not start as Clause.to_json writes is parsed whole)."""
    rows_of: dict[str, list[int]] = {}
    for r, key in enumerate(row_keys):
        rows_of.setdefault(key, []).append(r)
    row_clause = np.full(len(row_keys), -1, dtype=np.int64)
    parents: list[str | None] = [None] * len(row_keys)
    editions = [(d.id, d.edition) for d in documents]
    starts: list[int] = []
    offsets: list[Any] = []
    hashes: list[int] = []
    current: tuple[str, int] | None = None
    e = -1
    i = 0  # clause id
    base = 0  # file position of buf[0]
    rest = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            buf = rest + chunk
            if not buf:
                break
            ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
            if not chunk and (not len(ends) or ends[-1] != len(buf) - 1):
                raise IndexMismatch(f"{path} ends in the middle of a line (truncated)", _HINT)
            begin = 0
            offsets.append(base + np.concatenate(([0], ends[:-1] + 1)) if len(ends) else np.zeros(0, np.int64))
            for end in ends.tolist():
                m = _PREFIX.match(buf, begin, end)
                if m is not None:
                    doc, edition, section, parent = (_text(m.group(1)), int(m.group(2)), _text(m.group(3)),
                                                     _text(m.group(4)))
                else:
                    try:
                        d = loads(buf[begin:end])
                        doc, edition, section, parent = d["doc_id"], int(d["edition"]), d["section"], d.get("parent")
                    except (ValueError, TypeError, KeyError) as err:
                        raise IndexMismatch(f"{path}: line {i + 1} is not a clause ({err})", _HINT) from None
                if (doc, edition) != current:
                    current = (doc, edition)  # type: ignore[assignment]
                    e += 1
                    while e < len(editions) and editions[e] != current:
                        starts.append(i)  # an edition without clauses
                        e += 1
                    if e == len(editions):
                        raise IndexMismatch(f"{path}: line {i + 1} is a clause of {doc}@{edition}, which is not "
                                            "where documents.json puts it", _HINT)
                    starts.append(i)
                key = f"{doc}@{edition}#{section}"
                hashes.append(key_hash(key))
                rows = rows_of.get(key)
                if rows is not None:
                    for r in rows:  # the last clause with the key, as a dictionary of keys gave it
                        row_clause[r] = i
                        parents[r] = parent
                i += 1
                begin = end + 1
            base += begin
            rest = buf[begin:]
            if not chunk:
                break
    while len(starts) < len(editions):
        starts.append(i)
    starts.append(i)
    offsets.append(np.asarray([base], dtype=np.int64))
    missing = [row_keys[r] for r in np.flatnonzero(row_clause < 0)[:3]]
    if missing:
        raise IndexMismatch(f"{path.parent / ROWS_FILE} names clauses that {CLAUSES_FILE} does not have: "
                            f"{', '.join(missing)}", _HINT)
    return (np.concatenate(offsets).astype(np.int64), np.asarray(starts, dtype=np.int64),
            np.asarray(hashes, dtype=np.uint64), row_clause, parents)
