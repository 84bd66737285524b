"""Citations typed as queries: 「Q&A 1-2」「Q＆A２－５」「3-7について」「要綱 4(1)ア」「実施要綱の第６」「要綱８（ア）」
「Q&A第1版2-4」「説明資料 p5」「母子保健法 第20条」 resolve to the clause they name, which then leads the results.

Helpdesk staff type citations to look up the wording they are about to quote; a ranking model would treat 「2-5」
as a weak keyword. The query is NFKC-folded (full-width digits, ＆, （）, －), a document is named by its label, title
or a kind word (Q&A, 要綱, 資料, 事務連絡), and a section form is accepted only when that section exists: anything
else is left to the ranking. Without a document word, a section that exists in exactly one document kind resolves
(「3-7について」 → the Q&A; 「4(2)エ」 → the 要綱).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from corpus.collection import Corpus
from corpus.errors import RegkbError
from corpus.lawcite import builtin_names, kanji_to_int
from corpus.model import Clause

# Words that name a document kind, besides each document's own label and title.
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "qa": ("q&a", "qa", "q and a", "質疑応答", "よくある質問", "faq", "問答"),
    "youkou": ("実施要綱", "要綱"),
    "slides": ("説明資料", "資料", "スライド"),
    "notice": ("事務連絡", "通知", "リーフレット"),
}
_KATA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"

_DASH = r"[-‐‑‒–—―ー−]"
_QA = re.compile(rf"(?<![\d./\-])(\d{{1,2}})\s*(?:{_DASH}|の)\s*(\d{{1,2}})(?![\d./]|\s*{_DASH}\s*\d)")
# 「Q&A 3.2」: a dot only where the Q&A is named (「1.5倍」 is a number)
_QA_DOT = re.compile(r"(?<![\d./\-])(\d{1,2})\.(\d{1,2})(?![\d.]|\s*[倍%万円億件年月日時割人歳])")
# 「Q&A 三の二」: kanji numbers only where the Q&A is named (a statute's 「別表第一の二」, 「第三条の二」: not items)
_KANJI_NUM = "[一二三四五六七八九十]"
_QA_KANJI = re.compile(rf"(?<![\d第]|{_KANJI_NUM})({_KANJI_NUM}{{1,3}})\s*(?:{_DASH}|の)\s*({_KANJI_NUM}{{1,3}})"
                       rf"(?!{_KANJI_NUM}|\s*[条項号版つ個件人])")
# 「4(2)エ」, also 「第4の(2)のエ」, 「4-(2)-エ」, 「4(1)の ケ」: the levels may be joined by の or a dash
# 「4-2-エ」 and 「第4の2のエ」 too (a dash or の between all three levels; 「4-2」 alone is a Q&A number); a number in
# brackets is never the first level (「四(1)ア」 before the kanji was read was 「(1)」, section 1)
_YOUKOU = re.compile(rf"(?<![\d./\-(])第?\s*(\d{{1,2}})\s*(?:(?:の|{_DASH})?\s*\(\s*(\d{{1,2}})\s*\)"
                     rf"|(?:{_DASH}|の)\s*(\d{{1,2}})(?=\s*(?:{_DASH}|の)\s*\(?\s*[{_KATA}](?![{_KATA}])))?"
                     rf"\s*(?:(?:の|{_DASH})?\s*\(?\s*([{_KATA}])\s*\)?)?"
                     rf"(?![\d{_KATA}]|(?<=\d)\s*[年月日円万億%件ヶか日時つ個点回人名歳割倍種制])")
_PAGE = re.compile(r"(?:p\.?|ページ|頁|スライド|slide)\s*(\d{1,3})(?!\d)|(\d{1,3})\s*(?:ページ|頁|枚目|p)(?![a-z])")
_EDITION = re.compile(r"第\s*(\d{1,2})\s*版")


@dataclass(frozen=True, slots=True)
class CitedClause:
    """A clause the query names, with the characters of the query that named it."""

    clause: Clause
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a query cites: the clauses that exist, and the citations the corpus lacks (CitationResolver.lookup)."""

    cited: list[CitedClause]
    unresolved: list[str]


def _strong_youkou(section: str) -> bool:
    """A 要綱 section form with a sub-item (「4(2)」「5ウ」): a bare 「6」 may be anything."""
    return bool(re.search(r"[(" + _KATA + "]", section))


_NUMBER_MARK = re.compile(r"(?<![a-z])no\.?\s*(?=\d)")


# a kanji number as a section level: after 第, in brackets, or before a bracket (「第四の（二）のエ」, 「四(1)ア」), between
# a level and a kana level (「第四の二のエ」), or
# right after 要綱 when nothing but a particle follows (「要綱の四について」; not 「要綱の一部」)
_KANJI_LEVEL = re.compile(r"(?<=第)[一二三四五六七八九十]+|(?<=\()[一二三四五六七八九十]+(?=\))|[一二三四五六七八九十]+(?=\()"
                          rf"|(?<=[\d一二三四五六七八九十]の)[一二三四五六七八九十]+(?=\s*の\s*[{_KATA}](?![{_KATA}]))"
                          r"|(?<=要綱)\s*の?\s*([一二三四五六七八九十]+)(?=$|\s|について|って|[はをにでの?。、,])")


def _kanji_number(text: str) -> int | None:
    try:
        return kanji_to_int(text)
    except ValueError:  # 「十十」: not a number
        return None


def _folded(text: str) -> tuple[str, list[int] | None]:
    """fold_query(text), and for each of its characters the offset in ``text`` of the character it came from (None
    when NFKC changed the length, which it does for rare characters such as ㍻)."""
    t = unicodedata.normalize("NFKC", text).lower()
    origin: list[int] | None = list(range(len(t))) if len(t) == len(text) else None
    out: list[str] = []
    kept: list[int] = []
    pos = 0
    for m in _KANJI_LEVEL.finditer(t):
        start, end = m.span(m.lastindex or 0)
        value = _kanji_number(t[start:end])
        if value is None:
            continue
        number = str(value)
        out.append(t[pos:start] + number)
        # the number's first digit from the kanji's first character, its last from their last
        kept += list(range(pos, start)) + [start] * (len(number) - 1) + [end - 1]
        pos = end
    out.append(t[pos:])
    kept += list(range(pos, len(t)))
    t = "".join(out)
    origin = [origin[i] for i in kept] if origin is not None else None
    t = _NUMBER_MARK.sub(lambda m: " " * len(m.group()), t)  # 「Q&A No.2-5」: same length, offsets kept
    return t.replace("〜", "~").replace("、", " ").replace("，", " "), origin


def fold_query(text: str) -> str:
    """NFKC, lower case, and the Japanese ways of writing the same marks: 「Ｑ＆Ａ２－５」 -> 「q&a2-5」, 「第四の（二）」
    -> 「第4の(2)」."""
    return _folded(text)[0]


_FILLER = re.compile(r"について|とは|を?見せて|を?教えて|の内容|を表示|[\s、。，．,.？?！!「」()（）のはをにでがとへや]")


def _says_more(query: str, start: int, end: int) -> bool:
    """Whether the query has words besides the citation at [start, end) (particles and 「について」 do not count)."""
    return bool(_FILLER.sub("", query[:start] + " " + query[end:]))


# the last 項 or 号 of a statute section: 「第19条の2第1項第3号」 → 「第19条の2第1項」 → 「第19条の2」
_LAST_LEVEL = re.compile(r"第\d+[項号]$")
_FIRST_TABLE = re.compile(r"^別表第1(?!\d)の?(.*)$")  # 「別表第1の40の項」 -> group 1: 「40の項」
_ROW_ONLY = re.compile(r"^別表(\d+)の項$")  # 「別表2」 reads as a row of the only table, or else as table 2


class CitationResolver:
    """Finds citations in a query against one corpus snapshot (built once per loaded index)."""

    def __init__(self, corpus: Corpus, law_names: Mapping[str, str] | None = None) -> None:
        self.corpus = corpus
        self.law_names = dict(law_names or {})
        # Statutes staff cite by a known name that this corpus does not hold (a build without 番号法): a section of
        # one cited is reported as not in the corpus rather than searched as words and answered from other laws.
        present = set(self.law_names.values())
        self._absent_laws = {n: i for n, i in builtin_names(titles=True).items() if i not in present}
        self._docs: list[tuple[str, str, tuple[str, ...]]] = []  # (doc id, kind, names folded, longest first)
        for doc_id in corpus.doc_ids:
            d = corpus.get(doc_id).document
            names = {fold_query(d.label), fold_query(d.title), *KIND_WORDS.get(d.kind, ())}
            # a label with a date in brackets (「事務連絡（令和7年5月22日）」) is also named without it
            names |= {fold_query(re.sub(r"\(.*?\)", "", d.label)).strip()}
            self._docs.append((doc_id, d.kind, tuple(sorted((n for n in names if n), key=len, reverse=True))))
        self._numbered = [(doc_id, kind) for doc_id, kind, _ in self._docs if kind in ("qa", "youkou")]
        # Names by their first two characters (one for a one-character name): a query is scanned once, instead of
        # every name of every document searched for in it (4,155 statutes: ~0.5 ms a query).
        self._by_head: dict[str, list[tuple[int, str]]] = {}
        for i, (_, _, names) in enumerate(self._docs):
            for n in names:
                self._by_head.setdefault(n[:2], []).append((i, n))

    # -- which document ----------------------------------------------------------------------------------------

    def _named_docs(self, q: str) -> list[tuple[str, int, int]]:
        """(doc id, start, end) of each document the query names, by its longest matching name (where it first
        occurs), in the corpus's order."""
        best: dict[int, tuple[int, int, int]] = {}
        for i in range(len(q)):
            for head in (q[i:i + 2], q[i]) if i + 1 < len(q) else (q[i],):
                for d, n in self._by_head.get(head, ()):
                    if q.startswith(n, i) and (d not in best or len(n) > best[d][2]):
                        best[d] = (i, i + len(n), len(n))
        if not best:
            return []
        top = max(v[2] for v in best.values())
        # 「説明資料」 names the slides whose label contains it over the other slides, which only match 「資料」.
        return [(self._docs[d][0], s, e) for d, (s, e, n) in sorted(best.items()) if n == top]

    def _clause(self, doc_id: str, section: str, edition: int | None) -> Clause | None:
        try:
            return self.corpus.clause(doc_id, section, edition)
        except RegkbError:  # "no such section or edition": not a citation, leave it to the ranking
            return None

    def _editions(self, doc_id: str, edition: int | None) -> list[int | None]:
        if edition is None:
            return [None]
        known = {p.document.edition for p in self.corpus.editions(doc_id)}
        return [edition] if edition in known else [None]

    # -- sections ----------------------------------------------------------------------------------------------

    def _candidates(self, q: str, kinds: Iterable[str], named: bool = False) -> list[tuple[str, int, int]]:
        """(section, start, end) of every section form in the query that fits a document of one of ``kinds``;
        ``named``: the query names that document."""
        kinds = set(kinds)
        out: list[tuple[str, int, int]] = []
        if "qa" in kinds:
            for pattern in (_QA, _QA_DOT) if named else (_QA,):
                out += [(f"{int(m.group(1))}-{int(m.group(2))}", m.start(), m.end()) for m in pattern.finditer(q)]
            if named:
                out += [(f"{number}-{item}", m.start(), m.end()) for m in _QA_KANJI.finditer(q)
                        if (number := _kanji_number(m.group(1))) and (item := _kanji_number(m.group(2)))]
        if "youkou" in kinds:
            for m in _YOUKOU.finditer(q):
                major, minor, kana = m.group(1), m.group(2) or m.group(3), m.group(4)
                section = str(int(major)) + (f"({int(minor)})" if minor else "") + (kana or "")
                out.append((section, m.start(), m.end()))
        if kinds & {"slides", "notice"}:
            out += [(f"p{int(m.group(1) or m.group(2))}", m.start(), m.end()) for m in _PAGE.finditer(q)]
        return out

    def find(self, query: str) -> list[CitedClause]:
        """The clauses the query cites, most specific first; empty when it cites none that exists."""
        return self.lookup(query).cited

    def unresolved(self, query: str) -> list[str]:
        """Citations in the query that name a document or statute of the corpus but a section it does not have (see
        ``lookup``), as typed, in query order."""
        return self.lookup(query).unresolved

    def lookup(self, query: str) -> Lookup:
        """What the query cites, in one pass: the clauses that exist (``cited``, most specific first) and the
        citations of a document or statute of the corpus that name a section it does not have (「Q&A 9-9」
        「母子保健法第99条」) or another law under a known law's name (「学校保健安全法施行令第8条」) — whatever the
        ranking returns for those, it is not what was asked (``unresolved``, the text as typed, in query order).

        Only unmistakable section forms are unresolved — 「9-9」, 「第12」, 「4(9)」, 「p40」 — not a bare number after
        要綱, which is as often a count (「要綱の3つの要件」)."""
        q, origin = _folded(query)
        m = _EDITION.search(q)
        edition = int(m.group(1)) if m else None
        named = self._named_docs(q)
        found: list[CitedClause] = []
        seen: set[str] = set()

        def add(c: Clause | None, start: int, end: int) -> None:
            if c is not None and c.key not in seen:
                seen.add(c.key)
                found.append(CitedClause(c, start, end))

        resolved: set[tuple[int, int]] = set()  # spans of section forms that name a clause of a named document
        missing: dict[tuple[int, int], int] = {}  # span of a strong section form that names none -> its doc's name
        if named:
            for doc_id, name_start, _ in named:  # several when a name fits more than one (「資料」)
                kind = self.corpus.get(doc_id).document.kind
                for section, s, e in self._candidates(q, [kind], named=True):
                    clauses = [self._clause(doc_id, section, ed) for ed in self._editions(doc_id, edition)]
                    for c in clauses:
                        add(c, s, e)
                    if any(c is not None for c in clauses):
                        resolved.add((s, e))
                    elif kind != "youkou" or _strong_youkou(section) or q[s] == "第":
                        missing.setdefault((s, e), name_start)
        else:
            # No document named: a section form that exists in exactly one document resolves; a bare page number
            # or a bare 「第6」 is too weak a sign on its own.
            hits: dict[tuple[str, int, int], list[Clause]] = {}
            for doc_id, kind in self._numbered:
                for section, s, e in self._candidates(q, [kind]):
                    if kind == "youkou" and not _strong_youkou(section):
                        continue
                    c = self._clause(doc_id, section, None)
                    if c is not None:
                        hits.setdefault((section, s, e), []).append(c)
            for (_, s, e), cs in hits.items():
                if len({c.doc_id for c in cs}) == 1:
                    add(cs[0], s, e)
        def typed(a: int, b: int) -> str:  # as typed where the folded offsets map back, else as folded
            return (query[origin[a]:origin[b - 1] + 1] if origin is not None else q[a:b]).strip()

        # with the document's name when it is near the section form
        unresolved = [(s, typed(start if 0 <= s - start <= 8 else s, e))
                      for (s, e), start in missing.items() if (s, e) not in resolved]
        laws, lacking = self._law_citations(query)
        found += [c for c in laws if c.clause.key not in seen]
        # Longest citation text first: 「4(1)ア」 over a stray 「4」 elsewhere in the query.
        found.sort(key=lambda c: -(c.end - c.start))
        unresolved += lacking
        return Lookup(found, list(dict.fromkeys(text for _, text in sorted(unresolved))))

    def _law_citations(self, query: str) -> tuple[list[CitedClause], list[tuple[int, str]]]:
        """(the statute sections the query cites, (offset, text) of those the corpus lacks and of other laws named
        under a known law's name)."""
        from corpus.lawcite import find_law_citations, subordinate_laws

        lacking = [(c.start, query[c.start:c.end]) for c in find_law_citations(query, self._absent_laws)
                   if c.section is not None]
        lacking += [(start, query[start:end]) for start, end in subordinate_laws(query, self._absent_laws)]
        if not self.law_names:
            return [], lacking
        out = []
        lacking += [(start, query[start:end]) for start, end in subordinate_laws(query, self.law_names)]
        for cite in find_law_citations(query, self.law_names):
            if cite.section is None:
                continue
            c = self._nearest_law_clause(cite.law_id, cite.section)
            if c is None:
                lacking.append((cite.start, query[cite.start:cite.end]))
                continue
            if c.kind == "table" and self._has_rows(c) and _says_more(query, cite.start, cite.end):
                # 「番号法の別表で難病法の特定医療費が載ってる項」 asks for a row; the whole table (hundreds of rows)
                # is no answer: the ranking finds the row, the law's name still counting for it
                continue
            out.append(CitedClause(c, cite.start, cite.end))
        return out, lacking

    def _has_rows(self, table: Clause) -> bool:
        parsed = self.corpus.get(table.doc_id, table.edition)
        return any(c.parent == table.section for c in parsed.clauses)

    def _nearest_law_clause(self, law_id: str, section: str) -> Clause | None:
        """The cited 条/項/号, or the nearest one above it that exists: a 号 the current text no longer has (or a
        mistyped one) still leads to its article rather than to nothing. 「別表第一」 of a law with one unnumbered 別表 is
        that table (番号法's 別表第一 became its 別表 when 別表第二 was deleted; staff still type the old name)."""
        while True:
            c = self._clause(law_id, section, None)
            if c is None and (first := _FIRST_TABLE.match(section)):
                c = self._clause(law_id, "別表" + first.group(1), None)
            if c is None and (row := _ROW_ONLY.match(section)):  # 「別表2」 of a law with numbered tables
                c = self._clause(law_id, f"別表第{row.group(1)}", None)
            if c is not None:
                return c
            shorter = _LAST_LEVEL.sub("", section)
            if shorter == section or not shorter:
                return None
            section = shorter
