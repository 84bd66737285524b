"""The clause graph: each clause's parent, children and outline depth, its references resolved, and the references
to it (``cited_by``: the reverse of ``Clause.refs``, law citations included — a subsidy clause cites a statute's
article, and the article lists the subsidy clauses citing it). Computed once at build time (``compute_graph``) and
written as ``graph.json``; the server loads it next to the searcher (``ClauseGraph.load``).

Clauses are numbered from 0 in corpus order (documents by id, editions ascending, clauses in document order: the
order of ``clauses.jsonl``), and the graph is arrays of those numbers — at ~800k statute clauses a few MiB of
numpy int32, where dictionaries of keys and lists of clauses took ~320 MiB. ``graph.json`` (format 1)::

    {"format": 1,
     "editions": [["hojokin-qa@1", 80], ...],   the numbering: each edition's key and clause count, in order
     "parent": [-1, 0, ...],                     the clause its ``parent`` section names in its edition, or -1
     "depth": [0, 1, ...],                       the outline: how deep the clause sits under its parents
     "children": {"count": [...], "ids": [...]}, each clause's children in document order (counts per clause,
     "refs": {"count": [...], "ids": [...]},     then the ids one after another); refs: its ``Clause.refs`` in
     "cited_by": {"count": [...], "ids": [...]}} order, each the clause it resolves to or -1 (not found);
                                                 cited_by: the clauses citing it, in corpus order (a citation of
                                                 第9条第2項 is listed on 第9条 too)

A build made before this file existed has no ``graph`` entry in its manifest: it is computed on load, with a warning.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from corpus.collection import Corpus
from corpus.errors import IndexMismatch, RegkbError
from corpus.model import Clause, LazyParsedDocument, ParsedDocument, clause_key
from corpus.sections import normalize_section

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

GRAPH_FILE = "graph.json"
FORMAT = 1
ARTICLE_PARTS = ("paragraph", "law_item")  # a citation of one of these is listed on its article's page too


def _csr(lists: Mapping[int, Iterable[int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The lists of ids of clauses 0..n-1 (absent: empty) as (offsets, ids): list i is ids[offsets[i]:offsets[i+1]]."""
    counts = np.zeros(n, dtype=np.int64)
    rows = sorted((i, list(ids)) for i, ids in lists.items())
    for i, ids in rows:
        counts[i] = len(ids)
    offsets = _offsets(counts)
    return offsets, np.fromiter((j for _, ids in rows for j in ids), dtype=np.int32, count=int(offsets[-1]))


def _offsets(counts: Any) -> np.ndarray:
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(np.asarray(counts, dtype=np.int64), out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError("more links than clause ids can number")
    return offsets.astype(np.int32)


@dataclass(frozen=True, slots=True, eq=False)
class GraphData:
    """The graph as arrays over clause ids; ``editions`` says how the ids are numbered."""

    editions: tuple[tuple[str, int], ...]
    parent: np.ndarray  # int32, -1: none
    depth: np.ndarray  # int32
    children: tuple[np.ndarray, np.ndarray]  # (offsets, ids), int32
    refs: tuple[np.ndarray, np.ndarray]  # ids may be -1: the reference is not found
    cited_by: tuple[np.ndarray, np.ndarray]

    def to_json(self) -> dict[str, Any]:
        def lists(csr: tuple[np.ndarray, np.ndarray]) -> dict[str, list[int]]:
            return {"count": np.diff(csr[0]).tolist(), "ids": csr[1].tolist()}

        return {"format": FORMAT, "editions": [list(e) for e in self.editions], "parent": self.parent.tolist(),
                "depth": self.depth.tolist(), "children": lists(self.children), "refs": lists(self.refs),
                "cited_by": lists(self.cited_by)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GraphData:
        if d.get("format") != FORMAT:
            raise ValueError(f"graph format {d.get('format')!r}, this regkb reads {FORMAT}")

        def lists(x: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
            return _offsets(x["count"]), np.asarray(x["ids"], dtype=np.int32)

        data = cls(editions=tuple((str(k), int(n)) for k, n in d["editions"]),
                   parent=np.asarray(d["parent"], dtype=np.int32), depth=np.asarray(d["depth"], dtype=np.int32),
                   children=lists(d["children"]), refs=lists(d["refs"]), cited_by=lists(d["cited_by"]))
        data.check()
        return data

    @property
    def size(self) -> int:
        return sum(n for _, n in self.editions)

    def check(self) -> None:
        """Raises ValueError when the arrays do not fit the numbering."""
        n = self.size
        for name, csr in (("children", self.children), ("refs", self.refs), ("cited_by", self.cited_by)):
            if len(csr[0]) != n + 1 or csr[0][-1] != len(csr[1]):
                raise ValueError(f"{name} does not have one list per clause")
            if len(csr[1]) and (csr[1].max() >= n or csr[1].min() < (-1 if name == "refs" else 0)):
                raise ValueError(f"{name} names a clause that does not exist")
        for name, arr in (("parent", self.parent), ("depth", self.depth)):
            if len(arr) != n:
                raise ValueError(f"{name} does not have one entry per clause")
        if n and (self.parent.max() >= n or self.parent.min() < -1):
            raise ValueError("parent names a clause that does not exist")

    def summary(self) -> dict[str, Any]:
        """For the manifest."""
        refs = self.refs[1]
        return {"file": GRAPH_FILE, "format": FORMAT, "clauses": self.size, "children": len(self.children[1]),
                "refs": int((refs >= 0).sum()), "refs_not_found": int((refs < 0).sum()),
                "cited_by": len(self.cited_by[1])}

    def same_as(self, other: GraphData) -> bool:
        return self.to_json() == other.to_json()


def _editions_of(corpus: Corpus) -> tuple[tuple[str, int], ...]:
    return tuple((p.document.key, p.clause_count) for p in corpus)


def compute_graph(corpus: Corpus) -> GraphData:
    """Parents, children, depth, resolved references and reverse references of every clause of ``corpus``.

    A reference resolves as ``Corpus.clause`` does (section in any spelling; no edition: the latest). Sections are
    unique within an edition in practice; where one repeats, a link by key names its last clause (as the
    dictionary of keys the server used to build did), so the pages stay what they were."""
    editions: list[ParsedDocument] = list(corpus)
    clauses: list[Clause] = [c for p in editions for c in p.clauses]
    n = len(clauses)
    if n >= 2**31:
        raise ValueError("more clauses than int32 ids can number")
    keys = [c.key for c in clauses]
    by_key: dict[str, int] = {k: i for i, k in enumerate(keys)}  # last one wins
    unique = len(by_key) == n
    last: Any = range(n) if unique else [by_key[k] for k in keys]  # the id a clause's key names
    # For resolving: each edition's first clause of a section; editions by (doc, number) and the latest per doc.
    first: list[dict[str, int]] = []
    edition_of: dict[tuple[str, int], int] = {}
    latest: dict[str, int] = {}
    start = 0
    for e, p in enumerate(editions):
        sections: dict[str, int] = {}
        for i, c in enumerate(p.clauses):
            sections.setdefault(c.section, start + i)
        first.append(sections)
        edition_of.setdefault((p.document.id, p.document.edition), e)
        latest[p.document.id] = e  # editions ascend within a document
        start += len(p.clauses)
    normalized: dict[str, str] = {}

    def resolve(ref: str) -> int:
        head, sep, section = ref.partition("#")
        if not sep or not section:
            return -1
        doc, _, edition = head.partition("@")
        try:
            e = edition_of.get((doc, int(edition))) if edition else latest.get(doc)
        except ValueError:
            return -1
        if e is None:
            return -1
        wanted = normalized.get(section)
        if wanted is None:
            wanted = normalized[section] = normalize_section(section)
        return first[e].get(wanted, -1)

    parent = np.full(n, -1, dtype=np.int32)
    up = [-1] * n  # the parent by exact key: children and depth
    children: dict[int, list[int]] = {}
    refs: dict[int, list[int]] = {}
    for i, c in enumerate(clauses):
        if c.parent is not None:
            parent_key = clause_key(c.doc_id, c.edition, c.parent)
            t = resolve(parent_key)
            parent[i] = last[t] if t >= 0 else -1
            j = by_key.get(parent_key)
            if j is not None:
                up[i] = j
                children.setdefault(j, []).append(last[i])
        if c.refs:
            exact = [by_key.get(ref) for ref in c.refs]
            refs[i] = [j if j is not None else resolve(ref) for ref, j in zip(c.refs, exact)]
    cited: dict[int, dict[int, None]] = {}  # target -> citing clauses, in order, once each
    for citing in by_key.values():
        for ref in clauses[citing].refs:
            target = resolve(ref)
            listed = by_key.get(keys[target] if target >= 0 else ref)
            if listed is not None:
                cited.setdefault(listed, {})[citing] = None
            if target >= 0:
                t = clauses[target]
                if t.kind in ARTICLE_PARTS and t.parent:
                    article = by_key.get(clause_key(t.doc_id, t.edition, t.parent))
                    if article is not None:
                        cited.setdefault(article, {})[citing] = None
    depth = np.zeros(n, dtype=np.int32)
    # Depth: the parents walked up from a clause, stopping at a parent already seen. Where a parent comes earlier
    # and its own walk ended at the top ("clean"), the clause is one deeper (document order: nearly always).
    clean = [False] * n
    for i in range(n):
        j = up[i]
        if j < 0:
            clean[i] = True
        elif unique and j < i and clean[j]:
            depth[i], clean[i] = depth[j] + 1, True
        else:
            d, seen = 0, {last[i]}
            while j >= 0 and j not in seen:
                seen.add(j)
                d, j = d + 1, up[j]
            depth[i] = d
    # A key that repeats in an edition: its clauses share the last one's children and citing clauses (they are
    # found by key); each keeps its own parent, depth and references.
    for i in range(n):
        j = last[i]
        if j != i:
            if j in children:
                children[i] = children[j]
            if j in cited:
                cited[i] = cited[j]
    return GraphData(editions=_editions_of(corpus), parent=parent, depth=depth, children=_csr(children, n),
                     refs=_csr(refs, n), cited_by=_csr(cited, n))


def write_graph(directory: Path, data: GraphData) -> dict[str, Any]:
    """Writes ``graph.json`` into a build directory; returns what the manifest records."""
    text = json.dumps(data.to_json(), ensure_ascii=False, separators=(",", ":"))
    (Path(directory) / GRAPH_FILE).write_text(text, encoding="utf-8")
    return data.summary()


# Clauses kept parsed by id, and ids by key (a served build reads them on demand): a result's hits are looked up by
# key, then by identity for their references, then their neighbours — each a read and a parse without it (~10 % of
# a statute-scale query's CPU; finding a key's id reads and parses its clause from the key index once more).
PARSED_CLAUSES = 4096


class _Recent(Generic[K, V]):
    """A bounded map, the least recently used entry dropped first; thread-safe, the value computed outside the lock
    (two threads may compute the same one: both get an equal value)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


class ClauseGraph:
    """The graph of a loaded index over its corpus: ids to clauses and back, and each clause's neighbours.

    Every method takes and returns ``Clause`` objects of ``corpus``; a reference that resolves to nothing is
    returned as its key string. Finding a clause's id reads the clause file's key index (a served build), or builds a
    section lookup for its edition on first use (a corpus in memory)."""

    def __init__(self, corpus: Corpus, notes: Mapping[str, str] | None = None, data: GraphData | None = None) -> None:
        self.corpus = corpus
        self.notes = dict(notes or {})  # clause key -> 「第2版で追記」
        if data is None:
            data = compute_graph(corpus)
        elif data.editions != _editions_of(corpus):
            raise ValueError("the graph was computed for other clauses than the corpus holds")
        self.data = data
        self._editions: list[ParsedDocument] = list(corpus)
        self._starts: list[int] = []
        self._edition_of: dict[tuple[str, int], int] = {}
        start = 0
        for e, p in enumerate(self._editions):
            self._starts.append(start)
            self._edition_of.setdefault((p.document.id, p.document.edition), e)
            start += p.clause_count  # not len(p.clauses): a served build reads an edition's clauses on demand
        self._sections: list[dict[str, int] | None] = [None] * len(self._editions)
        self._parsed: _Recent[int, Clause] = _Recent(PARSED_CLAUSES)
        self._ids: _Recent[tuple[int, str], int | None] = _Recent(PARSED_CLAUSES)  # (edition, section) -> id

    @classmethod
    def load(cls, build_dir: Path | None, manifest: Mapping[str, Any], corpus: Corpus,
             notes: Mapping[str, str] | None = None) -> ClauseGraph:
        """The graph a build wrote. A build without one (made before graph.json existed) gets it computed now,
        with a warning; a graph file that is unreadable or does not match the build's clauses raises IndexMismatch."""
        info = manifest.get("graph")
        if build_dir is None or not info:
            if build_dir is not None:
                log.warning("index build %s has no clause graph (built before graph.json existed): computing it "
                            "from the corpus; `regkb build` writes it", Path(build_dir).name)
            return cls(corpus, notes)
        path = Path(build_dir) / str(info.get("file") or GRAPH_FILE)
        started = time.perf_counter()
        try:
            with open(path, "rb") as f:
                data = GraphData.from_json(json.load(f))
            graph = cls(corpus, notes, data)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise IndexMismatch(f"the clause graph {path} cannot be used ({e})", "rebuild it with `regkb build`") \
                from None
        log.debug("clause graph loaded in %.3f s", time.perf_counter() - started)
        return graph

    # -- ids ----------------------------------------------------------------------------------------------------

    def _local(self, e: int, section: str) -> int | None:
        """The position of the (last) clause with this section in edition ``e``."""
        p = self._editions[e]
        if isinstance(p, LazyParsedDocument):
            # a served build: the clause file's key index, not a dict of every edition a page or hit touched
            # (the statute archive has 779,250 clauses; parsing an edition to build its dict was ~5 % of a query)
            return p.position(section)
        sections = self._sections[e]
        if sections is None:  # built once per edition, when a page of it is first shown
            sections = {c.section: i for i, c in enumerate(self._editions[e].clauses)}
            self._sections[e] = sections
        return sections.get(section)

    def _id(self, doc: str, edition: int, section: str) -> int | None:
        e = self._edition_of.get((doc, edition))
        if e is None:
            return None

        def find() -> int | None:
            local = self._local(e, section)
            return None if local is None else self._starts[e] + local

        return self._ids.get((e, section), find)

    def _index(self, c: Clause) -> int | None:
        """The id of ``c`` itself (of the last clause with its key when ``c`` is not one of the corpus's)."""
        i = self._id(c.doc_id, c.edition, c.section)
        # equal, not identical: a build read on demand parses a clause again when it is asked for again
        if i is None or self._clause(i) == c:
            return i
        e = self._edition_of[(c.doc_id, c.edition)]
        for local, other in enumerate(self._editions[e].clauses):  # a section that repeats in its edition
            if other is c:
                return self._starts[e] + local
        return i

    def _clause(self, i: int) -> Clause:
        def read() -> Clause:
            e = bisect.bisect_right(self._starts, i) - 1
            return self._editions[e].clause_at(i - self._starts[e])  # one clause, not its whole edition

        return self._parsed.get(i, read)

    def _clauses(self, csr: tuple[np.ndarray, np.ndarray], c: Clause) -> list[Clause]:
        i = self._index(c)
        if i is None:
            return []
        offsets, ids = csr
        return [self._clause(int(j)) for j in ids[offsets[i]:offsets[i + 1]]]

    # -- lookups ------------------------------------------------------------------------------------------------

    def clause(self, doc: str, edition: int, section: str) -> Clause | None:
        """The clause of exactly this key (section as stored), or None."""
        i = self._id(doc, edition, section)
        return None if i is None else self._clause(i)

    def resolve(self, ref: str) -> Clause | None:
        """A ref key "doc@edition#section" (edition optional: latest; section in any spelling) to its clause."""
        head, sep, section = ref.partition("#")
        if not sep or not section:
            return None
        doc, _, edition = head.partition("@")
        try:
            return self.corpus.clause(doc, section, int(edition) if edition else None)
        except (ValueError, RegkbError):
            return None

    def refs(self, c: Clause) -> list[Clause | str]:
        """``c.refs`` in order, each as the clause it names or, when none is found, as written."""
        i = self._index(c)
        if i is None:
            return list(c.refs)
        offsets, ids = self.data.refs
        targets = ids[offsets[i]:offsets[i + 1]]
        return [self._clause(int(t)) if t >= 0 else ref for ref, t in zip(c.refs, targets)]

    def cited_by(self, c: Clause) -> list[Clause]:
        return self._clauses(self.data.cited_by, c)

    def children(self, c: Clause) -> list[Clause]:
        return self._clauses(self.data.children, c)

    def parent(self, c: Clause) -> Clause | None:
        i = self._index(c)
        j = int(self.data.parent[i]) if i is not None else -1
        return self._clause(j) if j >= 0 else None

    def neighbour(self, c: Clause, step: int) -> Clause | None:
        """The clause ``step`` places after (or before) ``c`` in its edition, or None past either end."""
        e = self._edition_of.get((c.doc_id, c.edition))
        local = self._local(e, c.section) if e is not None else None
        if e is None or local is None:
            return None
        clauses = self._editions[e].clauses
        if not 0 <= local + step < len(clauses):
            return None
        other = clauses[local + step]
        return self.clause(other.doc_id, other.edition, other.section)  # by key, as every link is

    def depth(self, c: Clause) -> int:
        i = self._index(c)
        return int(self.data.depth[i]) if i is not None else 0
