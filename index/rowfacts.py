"""Per-row facts the learned fusion's features read (index/features.py): each row's cues (an amount, a date, an
authority, a destination) as bits, the predicate of its lead sentence as an id, the digit runs of its text, and its
clause kind.

A build computes them for every row and writes them beside the index (``save``), so a fresh server answers its
first queries as fast as its thousandth; a build made before these files existed learns each row on first use.

    rowfacts.json            {"predicates": [...], "kinds": [...], "runs": {"<row>": "1,000 3", ...}}
    rowfacts.cues.npy        uint8 per row (bit 1: known)
    rowfacts.predicates.npy  int32 per row (an index into "predicates"; -1: no predicate)
    rowfacts.kinds.npy       uint8 per row (an index into "kinds")
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from corpus.model import Clause
from corpus.store import dump_json
from corpus.textnorm import fold
from index.answer_line import lead_sentence
from index.fastjson import loads
from index.predicate import predicate
from index.rerank import clause_cues, names_actor, names_destination

log = logging.getLogger(__name__)

_RUNS = re.compile(r"[\d.,]+")
_DIGIT = re.compile(r"\d")
FORMAT = 1


def parent_flags(rows: Sequence[Clause]) -> np.ndarray:
    """Per row: whether another row's parent section names it in its edition (a Q&A group, a 要綱 list item's parent)."""
    parents = {(c.doc_id, c.edition, c.parent) for c in rows if c.parent}
    return np.array([(c.doc_id, c.edition, c.section) in parents for c in rows], dtype=bool)


class RowFacts:
    """Per-row facts the features need: loaded from the build (``load``), or computed on first use and kept (a build
    never changes).

    Kept as arrays over all rows (filled in as queries reach them), so a query's candidates read theirs with one
    numpy index instead of one Python call each. The folded text itself is not kept, so the cache stays a few bytes
    per row however many rows queries touch: the row's cues as bits, its predicate as an id, and the digit runs of
    its text (all a query's numbers can match, see ``number_runs``)."""

    # bits of ``_cue_bits``: known, then the cues as ``cues`` returns them
    _KNOWN, _AMOUNT, _DATE, _ACTOR, _DESTINATION = 1, 2, 4, 8, 16
    _UNKNOWN, _NO_PREDICATE = -2, -1  # in ``_predicate_ids``

    def __init__(self, rows: Sequence[Clause], row_kind: np.ndarray, is_parent: np.ndarray | None = None) -> None:
        """``is_parent``: computed from ``rows`` when not given (the searcher gives it: reading every row's clause
        at load is what index/clausefile.py avoids)."""
        self.rows = rows
        self.row_kind = row_kind
        self.is_parent = parent_flags(rows) if is_parent is None else is_parent
        self.is_law = np.asarray(row_kind == "law", dtype=bool)
        self._cue_bits = np.zeros(len(rows), dtype=np.uint8)
        self._runs: dict[int, str] = {}
        self._predicate_ids = np.full(len(rows), self._UNKNOWN, dtype=np.int32)
        self._predicate_names: list[str] = []
        self._predicate_code: dict[str, int] = {}
        self._kind_ids: np.ndarray | None = None  # with _kind_names: from the build's files; else read per clause
        self._kind_names = np.zeros(0, dtype=object)

    def text(self, row: int) -> str:
        c = self.rows[row]
        return fold(f"{c.heading}\n{c.text}")

    def _learn(self, row: int) -> None:
        """Fold the row's text once and keep what the features need of it."""
        text = self.text(row)
        amount, date = clause_cues(text)
        bits = (self._KNOWN | self._AMOUNT * amount | self._DATE * date | self._ACTOR * names_actor(text)
                | self._DESTINATION * names_destination(text))
        runs = " ".join(dict.fromkeys(m for m in _RUNS.findall(text) if _DIGIT.search(m)))
        if runs:
            self._runs[row] = runs
        self._cue_bits[row] = bits

    def cue_bits(self, rows: np.ndarray) -> np.ndarray:
        """The cue bits of ``rows``, learning the rows not seen before."""
        bits = self._cue_bits[rows]
        if not bits.all():  # the known bit is set on every row learnt
            for row in dict.fromkeys(rows[bits == 0].tolist()):
                self._learn(row)
            bits = self._cue_bits[rows]
        return bits

    def cues(self, row: int) -> tuple[bool, bool, bool, bool]:
        """(states an amount, a date, an authority, a procedure's destination)."""
        bits = int(self.cue_bits(np.array([row]))[0])
        return (bool(bits & self._AMOUNT), bool(bits & self._DATE), bool(bits & self._ACTOR),
                bool(bits & self._DESTINATION))

    def number_runs(self, row: int) -> str:
        """The row's maximal runs of digits, "." and "," (those with a digit), space-separated: a number as
        ``query_cues`` finds it (digits, "." and "," only) occurs in the row's folded text exactly when it occurs in
        one of them, and so in this string (the space is in no number)."""
        if not self._cue_bits[row]:
            self._learn(row)
        return self._runs.get(row, "")

    def predicate(self, row: int) -> str | None:
        code = int(self._predicate_codes(np.array([row]))[0])
        return None if code == self._NO_PREDICATE else self._predicate_names[code]

    def _predicate_codes(self, rows: np.ndarray) -> np.ndarray:
        """The predicate ids of ``rows`` (``_NO_PREDICATE`` for none), tagging the rows not seen before."""
        codes = self._predicate_ids[rows]
        unknown = codes == self._UNKNOWN
        if unknown.any():
            for row in dict.fromkeys(rows[unknown].tolist()):
                found = predicate(lead_sentence(self.rows[row]))
                self._predicate_ids[row] = self._NO_PREDICATE if found is None else self._code(found)
            codes = self._predicate_ids[rows]
        return codes

    def _code(self, name: str) -> int:
        code = self._predicate_code.get(name)
        if code is None:
            code = self._predicate_code[name] = len(self._predicate_names)
            self._predicate_names.append(name)
        return code

    def predicate_matches(self, rows: np.ndarray, asked: str | None) -> np.ndarray:
        """Whether each row's lead sentence ends on the predicate ``asked`` (all False, and nothing tagged, for None)."""
        if asked is None:
            return np.zeros(len(rows), dtype=bool)
        codes = self._predicate_codes(rows)
        code = self._predicate_code.get(asked)
        return codes == code if code is not None else np.zeros(len(rows), dtype=bool)

    def kinds(self, rows: np.ndarray) -> np.ndarray:
        """The clause kind ("item", "clause", "page", "article" ...) of each of ``rows`` (object array)."""
        if self._kind_ids is not None:
            return self._kind_names[self._kind_ids[rows]]
        return np.array([self.rows[row].kind for row in rows.tolist()], dtype=object)

    # -- kept with the build ---------------------------------------------------------------------------------------

    def learn_all(self) -> None:
        """Learn every row (a build does, before ``save``)."""
        every = np.arange(len(self.rows))
        self.cue_bits(every)
        self._predicate_codes(every)

    def save(self, build_dir: Path) -> dict[str, Any]:
        """Write every row's facts beside the build (learning those not known yet); returns the manifest entry."""
        self.learn_all()
        kind_names = sorted({c.kind for c in self.rows})
        kind_code = {k: i for i, k in enumerate(kind_names)}
        np.save(build_dir / "rowfacts.cues.npy", self._cue_bits)
        np.save(build_dir / "rowfacts.predicates.npy", self._predicate_ids)
        np.save(build_dir / "rowfacts.kinds.npy", np.array([kind_code[c.kind] for c in self.rows], dtype=np.uint8))
        (build_dir / "rowfacts.json").write_bytes(dump_json({
            "format": FORMAT, "predicates": self._predicate_names, "kinds": kind_names,
            "runs": {str(row): runs for row, runs in self._runs.items()}}))
        return {"format": FORMAT, "rows": len(self.rows), "predicates": len(self._predicate_names)}

    @classmethod
    def load(cls, build_dir: Path, rows: Sequence[Clause], row_kind: np.ndarray,
             is_parent: np.ndarray | None = None) -> RowFacts:
        """The build's facts; for a build without them (made before they were kept), facts learnt on first use."""
        facts = cls(rows, row_kind, is_parent)
        try:
            meta = loads((build_dir / "rowfacts.json").read_bytes())
        except FileNotFoundError:
            log.info("build %s keeps no row facts: they are learnt as queries reach the rows (`regkb build` keeps "
                     "them)", build_dir.name)
            return facts
        if meta.get("format") != FORMAT:
            log.info("build %s keeps row facts in another format: learnt on first use instead", build_dir.name)
            return facts
        cues = np.load(build_dir / "rowfacts.cues.npy")
        predicates = np.load(build_dir / "rowfacts.predicates.npy")
        kinds = np.load(build_dir / "rowfacts.kinds.npy")
        if not (len(cues) == len(predicates) == len(kinds) == len(rows)):
            log.warning("build %s: row facts for %d rows, not %d: learnt on first use instead", build_dir.name,
                        len(cues), len(rows))
            return facts
        facts._cue_bits = cues
        facts._predicate_ids = predicates
        facts._predicate_names = list(meta["predicates"])
        facts._predicate_code = {name: i for i, name in enumerate(facts._predicate_names)}
        facts._runs = {int(row): runs for row, runs in meta["runs"].items()}
        facts._kind_ids = kinds
        facts._kind_names = np.array(meta["kinds"], dtype=object)
        return facts
