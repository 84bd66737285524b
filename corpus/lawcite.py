"""Statute citations: kanji numerals, canonical section ids, and law citations found in free text.

Section ids are written as staff cite them, with half-width digits: 「第6条」, 「第19条の2第1項第3号」,
「附則第1条」, 「別表40の項」. ``normalize_law_section`` accepts what people type (「第十九条の二第一項第三号」,
「19条の2第1項3号」, 「十九の二」, 「6条」); ``find_law_citations`` finds 「母子保健法 第20条」, 「難病法6条」,
「児童福祉法第十九条の二」, 「マイナンバー法の別表の40の項」 in text, given the names of the laws.
Standard library only.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
KANJI_NUM = "〇零一二三四五六七八九十百千"
_NUM = rf"(?:\d+|[{KANJI_NUM}]+)"


def kanji_to_int(s: str) -> int:
    """「十九」 -> 19, 「百二十三」 -> 123, 「二〇」 -> 20 (positional), 「千」 -> 1000; also accepts ASCII digits.

    Raises ValueError for anything else (empty, other characters, over 9999)."""
    s = unicodedata.normalize("NFKC", s).strip()
    if s.isascii() and s.isdigit():
        return int(s)
    if not s or any(ch not in _DIGITS and ch not in _UNITS for ch in s):
        raise ValueError(f"not a kanji numeral: {s!r}")
    if not any(ch in _UNITS for ch in s):  # positional form: 二〇 = 20, 六〇 = 60
        return int("".join(str(_DIGITS[ch]) for ch in s))
    total, digit, last_unit = 0, None, 10_000
    for ch in s:
        if ch in _DIGITS:
            # digits in a row after a unit are positional (「百四〇」 = 140, as e-Gov writes some law numbers)
            digit = _DIGITS[ch] if digit is None else digit * 10 + _DIGITS[ch]
            if digit >= last_unit:
                raise ValueError(f"not a kanji numeral: {s!r}")
        else:
            unit = _UNITS[ch]
            if unit >= last_unit:
                raise ValueError(f"not a kanji numeral: {s!r}")
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
    return total + (digit or 0)


def int_to_kanji(n: int) -> str:
    """19 -> 「十九」, 123 -> 「百二十三」, 0 -> 「〇」 (1 to 9999 in the form statutes use)."""
    if not 0 <= n <= 9999:
        raise ValueError(f"out of range: {n}")
    if n == 0:
        return "〇"
    names = "〇一二三四五六七八九"
    out = []
    for unit, mark in ((1000, "千"), (100, "百"), (10, "十")):
        q, n = divmod(n, unit)
        if q:
            out.append(("" if q == 1 else names[q]) + mark)
    if n:
        out.append(names[n])
    return "".join(out)


def _n(s: str) -> int:
    return kanji_to_int(s)


# --- section ids ----------------------------------------------------------------------------------------------

_BRANCH = rf"(?:の{_NUM})*"
_ARTICLE = rf"第?({_NUM})条?({_BRANCH})"
_SECTION_RE = re.compile(
    rf"^(附則(?:\([^)]*\))?)?(?:{_ARTICLE})?(?:第?({_NUM})項)?(?:第?({_NUM})号({_BRANCH}))?$")
# 「別表第一の四十の項」: table 1, row 40; 「別表第70の項」: row 70 of the only table (a table number is never followed
# directly by 「の項」, nor cut inside a number)
_TABLE_NUMBER = rf"第({_NUM})(?![\d{KANJI_NUM}]|の?項)"
# a row: 「40の項」, also 「第40項」 and a bare 「40」 (「番号法別表40」) as staff type it
_TABLE_RE = re.compile(rf"^別表(?:{_TABLE_NUMBER})?(?:の?第?({_NUM}({_BRANCH}))(?:の?項)?)?$")
_SPACES = re.compile(r"[\s\u3000]+")


def _branches(s: str) -> str:
    return "".join(f"の{_n(b)}" for b in re.findall(_NUM, s or ""))


def normalize_law_section(text: str) -> str:
    """The canonical section id: 「第十九条の二第一項第三号」 -> 「第19条の2第1項第3号」, 「6条」 -> 「第6条」,
    「十九の二」 -> 「第19条の2」, 「別表第一の四十の項」 -> 「別表第1の40の項」, 「附則第一条」 -> 「附則第1条」.

    Raises ValueError when the text is not a section id."""
    s = _SPACES.sub("", unicodedata.normalize("NFKC", text or ""))
    s = s.replace("（", "(").replace("）", ")")
    if s.startswith("別表"):
        m = _TABLE_RE.match(s)
        if not m:
            raise ValueError(f"not a 別表 section: {text!r}")
        table = "別表" + (f"第{_n(m.group(1))}" if m.group(1) else "")
        if m.group(2) is None:
            return table
        row = f"{_n(re.match(_NUM, m.group(2)).group())}{_branches(m.group(3))}"  # type: ignore[union-attr]
        return f"{table}{'の' if m.group(1) else ''}{row}の項"
    m = _SECTION_RE.match(s)
    if not m or not s or not any(m.group(i) for i in (2, 4, 5)):
        raise ValueError(f"not a law section: {text!r}")
    suppl, art, art_branch, para, item, item_branch = m.groups()
    if suppl and suppl != "附則":
        suppl = "附則(" + (law_number_of(suppl[3:-1]) or _law_number(suppl[3:-1])) + ")"
    out = suppl or ""
    if art:
        out += f"第{_n(art)}条{_branches(art_branch)}"
    if para:
        out += f"第{_n(para)}項"
    if item:
        out += f"第{_n(item)}号{_branches(item_branch)}"
    return out


def _law_number(text: str) -> str:
    """「平成二十六年法律第五十号」 -> 「平成26年法律第50号」 (numbers half-width; anything else kept)."""
    def num(m: re.Match[str]) -> str:
        try:
            return str(_n(m.group()))
        except ValueError:
            return m.group()

    return re.sub(_NUM, num, unicodedata.normalize("NFKC", text))


def law_number_of(text: str) -> str | None:
    """The law number inside a 附則 label 「附　則　（昭和六〇年五月一八日法律第三七号）　抄」 -> 「昭和60年法律第37号」."""
    m = re.search(rf"((?:明治|大正|昭和|平成|令和)(?:{_NUM}|元)年)(?:{_NUM}月{_NUM}日)?"
                  rf"([^()（）\s]{{0,12}}?第{_NUM}号)", unicodedata.normalize("NFKC", text))
    if not m:
        return None
    return _law_number(m.group(1) + m.group(2))


# --- finding citations in text ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LawCitation:
    """A law named in text, with the section it cites (None: the law as a whole); [start, end) in the text."""

    law_id: str
    section: str | None
    start: int
    end: int


def _fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """NFKC per character with whitespace dropped, and for each folded character its offset in ``text``."""
    out: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        folded = unicodedata.normalize("NFKC", ch)
        for f in folded:
            if not f.isspace():
                out.append(f)
                offsets.append(i)
    return "".join(out), offsets


def fold_name(name: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", name))


_PAREN = re.compile(r"\([^()]{0,60}\)")
_AFTER = re.compile(
    rf"(?:の)?(?:"
    rf"(?P<table>別表(?:第{_NUM}(?![\d{KANJI_NUM}]|の?項))?(?:の?第?{_NUM}{_BRANCH}(?:の?項|(?![つ個件行列番年月日円人])))?)"
    rf"|(?P<suppl>附則)?(?P<art>第?{_NUM}条{_BRANCH}(?:第?{_NUM}項)?(?:第?{_NUM}号{_BRANCH})?)"
    rf")")


class _NameIndex:
    """The law names of one mapping (folded), by their first two characters: a text is scanned once, leftmost and
    longest name first, without overlaps — what a regex alternation of the names, longest first, finds. Thousands of
    names (4,143 at the statute scale) made that regex ~150 µs a query, and a cache keyed by it hashed its compiled
    code on every lookup (~160 µs): both under the GIL, on every request."""

    __slots__ = ("by_head", "law_of")

    def __init__(self, names: Mapping[str, str]) -> None:
        self.law_of = {fold_name(n): law_id for n, law_id in names.items()}  # folded name -> law id
        self.by_head: dict[str, list[str]] = {}
        for n in sorted((n for n in self.law_of if len(n) >= 2), key=len, reverse=True):
            self.by_head.setdefault(n[:2], []).append(n)

    def __bool__(self) -> bool:
        return bool(self.by_head)

    def spans(self, folded: str) -> tuple[tuple[int, int], ...]:
        """(start, end) of each name in ``folded`` (a folded text), left to right."""
        out = []
        i, last = 0, len(folded) - 1
        by_head = self.by_head
        while i < last:
            for name in by_head.get(folded[i:i + 2], ()):
                if folded.startswith(name, i):
                    out.append((i, i + len(name)))
                    i += len(name)
                    break
            else:
                i += 1
        return tuple(out)


_INDEX_CACHE: dict[frozenset[tuple[str, str]], _NameIndex] = {}
# The same mapping object passed again (a searcher's law names, on every query) is found by identity: hashing the
# items of 4,155 laws' names cost ~1 ms per call. The mapping is kept with its entry, so its id is not reused, and
# its length is checked; a caller that changes a mapping in place must pass a new one.
_BY_ID: dict[int, tuple[Mapping[str, str], int, _NameIndex]] = {}


def _index_for(names: Mapping[str, str]) -> _NameIndex:
    seen = _BY_ID.get(id(names))
    if seen is not None and seen[0] is names and seen[1] == len(names):
        return seen[2]
    key = frozenset(names.items())
    hit = _INDEX_CACHE.get(key)
    if hit is None:
        hit = _NameIndex(names)
        if len(_INDEX_CACHE) > 8:
            _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = hit
    if len(_BY_ID) > 8:
        _BY_ID.clear()
    _BY_ID[id(names)] = (names, len(names), hit)
    return hit


# A law's name followed by one of these names another law (its cabinet order, its ministerial rules, an amending
# act): 「学校保健安全法施行令第8条」 is not 学校保健安全法 第8条. When that law is itself known, its own longer name
# matches first (the names are tried longest first).
_SUBORDINATE = re.compile(r"施行令|施行規則|施行細則|施行規程|施行法|(?:等)?の一部を改正する(?:法律|政令|省令)")


def subordinate_laws(text: str, names: Mapping[str, str]) -> list[tuple[int, int]]:
    """Where ``text`` names a law by a known law's name and a suffix that makes it another law, which ``names`` does
    not know: 「学校保健安全法施行令第8条」 -> [(0, 10)] (「学校保健安全法施行令」), offsets into ``text``."""
    index = _index_for(names)
    if not index or not text:
        return []
    folded, offsets, names_at = _scan(text, index)
    out = []
    for start, end in names_at:
        sub = _SUBORDINATE.match(folded, end)
        if sub:
            out.append((offsets[start], offsets[sub.end() - 1] + 1))
    return out


@lru_cache(maxsize=256)
def _scan(text: str, index: _NameIndex) -> tuple[str, tuple[int, ...], tuple[tuple[int, int], ...]]:
    """``text`` folded, its offsets, and the (start, end) of each law name in the folded text: the search asks for a
    query's law citations and for its subordinate laws more than once per query."""
    folded, offsets = _fold_with_offsets(text)
    return folded, tuple(offsets), index.spans(folded)


def find_law_citations(text: str, names: Mapping[str, str]) -> list[LawCitation]:
    """Every law named in ``text`` (by a full title or short name, a key of ``names`` mapping to its law id), with
    the section cited right after the name, if any: 「母子保健法 第20条」, 「難病法6条」, 「児童福祉法第十九条の二」,
    「マイナンバー法の別表の40の項」, 「番号法第9条第2項」, 「…に関する法律（平成25年法律第27号）第９条第２項」.

    Width, spaces and line breaks do not matter; offsets point into the original ``text``. A name followed by
    施行令, 施行規則 … is not cited (another law: ``subordinate_laws``)."""
    index = _index_for(names)
    if not index or not text:
        return []
    folded, offsets, names_at = _scan(text, index)
    out: list[LawCitation] = []
    for start, name_end in names_at:
        if _SUBORDINATE.match(folded, name_end):
            continue  # another law: see subordinate_laws
        law_id = index.law_of[folded[start:name_end]]
        pos = name_end
        paren = _PAREN.match(folded, pos)  # 「（平成25年法律第27号）」 or 「（以下「番号法」という。）」
        if paren:
            pos = paren.end()
        section = None
        end = name_end
        a = _AFTER.match(folded, pos)
        if a and (a.group("table") or a.group("art")):
            try:
                section = normalize_law_section(a.group("table") or (a.group("suppl") or "") + a.group("art"))
                end = a.end()
            except ValueError:
                section = None
        out.append(LawCitation(law_id, section, offsets[start], offsets[end - 1] + 1))
    return out


# --- law names ----------------------------------------------------------------------------------------------------

def builtin_names(titles: bool = False) -> dict[str, str]:
    """The small built-in table of short names (corpus/law_names.json): name -> law id; ``titles``: the laws' full
    titles too."""
    data: dict[str, Any] = json.loads((resources.files("corpus") / "law_names.json").read_text("utf-8"))
    names = {name: law_id for law_id, entry in data["laws"].items() for name in entry["names"]}
    if titles:
        names.update({entry["title"]: law_id for law_id, entry in data["laws"].items()})
    return names


def short_name_for(law_id: str) -> str | None:
    """The short name staff use for a law (the first of the built-in table), if it has one."""
    data: dict[str, Any] = json.loads((resources.files("corpus") / "law_names.json").read_text("utf-8"))
    entry = data["laws"].get(law_id)
    return entry["names"][0] if entry else None


_DEFINED = re.compile(r"以下「([^」]{2,30})」という")


def defined_short_names(text: str, titles: Mapping[str, str]) -> dict[str, str]:
    """Short names a document defines for laws: 「障害者の日常生活…法律（平成17年法律第123号。以下「障害者総合支援法」
    という。）」 -> {"障害者総合支援法": "417AC0000000123"}, for the laws whose full titles are in ``titles``."""
    index = _index_for(titles)
    if not index:
        return {}
    folded, _ = _fold_with_offsets(text)
    out: dict[str, str] = {}
    for start, end in index.spans(folded):
        tail = folded[end:end + 60]
        if not tail.startswith("("):
            continue
        close = tail.find(")")
        d = _DEFINED.search(tail[:close if close >= 0 else len(tail)])
        if d:
            out[d.group(1)] = index.law_of[folded[start:end]]
    return out


def law_names(docs: Iterable[Any]) -> dict[str, str]:
    """name -> law id for every law among ``docs`` (a Corpus, ParsedDocuments or Documents): each law's title, label
    and aliases, the built-in short names of those laws, and the short names other documents define for them."""
    documents, texts = [], []
    for d in docs:
        document = getattr(d, "document", d)
        documents.append(document)
        if document.kind != "law" and hasattr(d, "clauses"):
            texts.append("\n".join(c.text for c in d.clauses))
    laws = {d.id for d in documents if d.kind == "law"}
    names: dict[str, str] = {}
    titles: dict[str, str] = {}
    for d in documents:
        if d.kind != "law":
            continue
        titles[d.title] = d.id
        for n in (d.title, d.label, *getattr(d, "aliases", ())):
            if n:
                names.setdefault(n, d.id)
    for n, law_id in builtin_names().items():
        if law_id in laws:
            names.setdefault(n, law_id)
    for text in texts:
        for n, law_id in defined_short_names(text, titles).items():
            names.setdefault(n, law_id)
    return names
