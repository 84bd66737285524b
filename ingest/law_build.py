"""Statute structure -> cited clauses, shared by the e-Gov HTML and Markdown parsers.

A parser reports what it reads in document order (a 編/章/節 title, a 附則 label, an article with its paragraphs and
items, a 別表 with its rows) and ``LawBuilder`` turns it into clauses with the section ids staff cite:
「第19条の2」, 「第9条第2項」, 「第12条第1号」 (an article of one paragraph) or 「第20条第3項第1号」, 「附則第1条」,
「附則(平成26年法律第50号)第1条」 (附則 of later amending acts), 「別表」 and 「別表40の項」. 編/章/節 become
"group" clauses so that each article carries its chapter path as context.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from dataclasses import dataclass, field

from corpus.errors import UnrecognisedStructure
from corpus.lawcite import KANJI_NUM, kanji_to_int, law_number_of, normalize_law_section, short_name_for
from corpus.model import Clause, Document, ParsedDocument

log = logging.getLogger(__name__)

GROUP_LEVELS = {"編": 0, "章": 1, "節": 2, "款": 3, "目": 4}
_GROUP_TITLE = re.compile(rf"^第([{KANJI_NUM}\d]+)([編章節款目])((?:の[{KANJI_NUM}\d]+)*)")
_ARTICLE_HEAD = re.compile(rf"^第[{KANJI_NUM}\d]+条(?:の[{KANJI_NUM}\d]+)*")
_ROW_NUMBER = re.compile(rf"^([{KANJI_NUM}]+(?:の[{KANJI_NUM}]+)*)$")
EGOV_URL = "https://laws.e-gov.go.jp/law/{law_id}"


@dataclass(frozen=True, slots=True)
class LawItem:
    number: str  # 「一」, 「一の二」
    text: str  # the item line with its sub-items (イ, ロ, (1) …), as written


@dataclass(frozen=True, slots=True)
class LawParagraph:
    number: str  # 「２」; "" for the first paragraph of an article
    text: str
    items: tuple[LawItem, ...] = ()
    caption: str = ""


@dataclass(frozen=True, slots=True)
class LawMeta:
    law_id: str
    title: str
    law_num: str | None
    revision_id: str | None
    promulgated: dt.date | None
    enforced: dt.date | None
    source_url: str | None = None


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def _number_id(text: str) -> str:
    """「一の二」 -> 「1の2」."""
    return "の".join(str(kanji_to_int(p)) for p in _nfkc(text).split("の"))


@dataclass
class LawBuilder:
    meta: LawMeta
    name: str  # the file, for errors
    clauses: list[Clause] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)  # the document text, article by article
    _groups: list[tuple[int, str]] = field(default_factory=list)  # (level, section id) of open 編/章/節
    _prefix: str = ""  # "" in the main provision, 「附則」 or 「附則(…)」 in a 附則
    _seen: set[str] = field(default_factory=set)
    _pos: int = 0
    _tables: int = 0

    @property
    def label(self) -> str:
        return short_name_for(self.meta.law_id) or self.meta.title

    # -- events ------------------------------------------------------------------------------------------------

    def group(self, title: str) -> None:
        """A 編/章/節/款/目 title such as 「第三章　医療」 opens a group (closing any at its level or below)."""
        t = _nfkc(title).strip()
        m = _GROUP_TITLE.match(t)
        if not m:
            log.debug("%s: group title %r not numbered; ignored", self.name, title)
            return
        level = GROUP_LEVELS[m.group(2)]
        while self._groups and self._groups[-1][0] >= level:
            self._groups.pop()
        parent = self._groups[-1][1] if self._groups else None
        own = f"第{_number_id(m.group(1) + m.group(3))}{m.group(2)}"
        section = self._unique((parent or self._prefix) + own)
        self._add(section, "group", parent or (self._prefix or None), " ".join(title.split()), title.strip())
        self._groups.append((level, section))

    def suppl(self, label: str) -> None:
        """A 附則: the law's own (「附　則」, 「附　則　抄」) or an amending act's (「附　則　（平成二六年…法律第五〇号）」)."""
        self._groups.clear()
        number = law_number_of(label) if "(" in _nfkc(label) else None
        prefix = f"附則({number})" if number else "附則"
        if prefix in self._seen:  # two 附則 of one act, or an unnumbered one after the first: keep ids unique
            i = 2
            while f"{prefix}[{i}]" in self._seen:
                i += 1
            prefix = f"{prefix}[{i}]"
        self._seen.add(prefix)
        self._prefix = prefix

    def main(self) -> None:
        self._groups.clear()
        self._prefix = ""

    def article(self, title: str, caption: str, paragraphs: list[LawParagraph]) -> None:
        """An article 「第二十条」 with its caption 「（養育医療）」 and paragraphs (the first unnumbered)."""
        head = _ARTICLE_HEAD.match(_nfkc(title).replace(" ", ""))  # 「第五条から第七条まで」, 「第二十条乃至…」: the first
        try:
            base = normalize_law_section(head.group() if head else title)
        except ValueError:
            log.warning("%s: article title %r not understood; kept as text of the law", self.name, title)
            return
        section = self._unique(self._prefix + base)
        parent = self._groups[-1][1] if self._groups else (self._prefix or None)
        lines = []
        for i, p in enumerate(paragraphs):
            head = title if i == 0 else p.number
            lines.append(f"{head}　{p.text}".rstrip() if head else p.text)
            lines.extend(it.text for it in p.items)
        text = "\n".join(lines)
        start = self._pos
        self._add(section, "article", parent, _caption(caption), text)
        many = len(paragraphs) > 1
        pos = start
        for i, p in enumerate(paragraphs):
            pid = f"{section}第{_paragraph_number(p.number, i + 1)}項" if many else section
            ptext = "\n".join([lines_for(p, title if i == 0 else p.number)] + [it.text for it in p.items])
            pstart = text.find(ptext.split("\n")[0], pos - start) + start
            if many:
                self._add(pid, "paragraph", section, _caption(p.caption), ptext, start=pstart)
            pos = pstart + len(ptext)
            for it in p.items:
                try:
                    iid = self._unique(f"{pid}第{_number_id(it.number)}号")
                except ValueError:
                    continue
                istart = text.find(it.text, pstart - start) + start
                self._add(iid, "law_item", section, "", it.text, start=istart)

    def paragraph(self, caption: str, p: LawParagraph) -> None:
        """A paragraph standing alone (a 附則 or a law without articles): cited 「附則第2項」 / 「第2項」."""
        number = _nfkc(p.number).strip()
        try:
            n = kanji_to_int(number) if number else 1
        except ValueError:
            n = 1
        section = self._unique(f"{self._prefix}第{n}項")
        parent = self._groups[-1][1] if self._groups else (self._prefix or None)
        text = "\n".join([f"{p.number}　{p.text}" if p.number else p.text] + [it.text for it in p.items])
        start = self._pos
        self._add(section, "article", parent, _caption(caption), text)
        pos = 0
        for it in p.items:
            try:
                iid = self._unique(f"{section}第{_number_id(it.number)}号")
            except ValueError:
                continue
            pos = max(text.find(it.text, pos), 0)
            self._add(iid, "law_item", section, "", it.text, start=start + pos)

    def table(self, title: str, rows: list[tuple[str, str]], text: str) -> None:
        """A 別表 (「別表第一（第九条関係）」) with its rows; a row numbered 「四十」 is cited 「別表40の項」."""
        self._tables += 1
        t = _nfkc(title).strip()
        m = re.match(rf"別表第?([{KANJI_NUM}\d]+)", t)
        table = f"別表第{_number_id(m.group(1))}" if m else "別表"
        section = self._unique(self._prefix + table)
        start = self._pos
        self._add(section, "table", self._prefix or None, title.strip() or "別表", text)
        last: tuple[int, ...] = ()
        pos = 0
        for number, row_text in rows:
            if not _ROW_NUMBER.match(number):
                continue
            try:
                key = tuple(kanji_to_int(x) for x in number.split("の"))
            except ValueError:
                continue
            if key <= last:
                continue
            last = key
            row = "の".join(str(k) for k in key)
            rid = self._unique(f"{section}{'の' if section.endswith(tuple('0123456789')) else ''}{row}の項")
            cite = f"{self.label} {section} {row}の項"
            found = text.find(row_text, pos)
            pos = found if found >= 0 else pos
            self._add(rid, "table_row", section, f"{number}の項", row_text, start=start + pos, citation=cite)

    # -- output ------------------------------------------------------------------------------------------------

    def result(self, sha256: str, source_name: str, edition: int = 1) -> ParsedDocument:
        if not any(c.kind in ("article", "table") for c in self.clauses):
            raise UnrecognisedStructure(self.name, "no article (条), paragraph or 別表 found in this law file",
                                        "check that the file is a complete e-Gov law page or law Markdown")
        m = self.meta
        label = self.label
        aliases = tuple(n for n in (short_name_for(m.law_id),) if n and n != label)
        doc = Document(
            id=m.law_id, title=m.title, kind="law", label=label, edition=edition, edition_label=None,
            issued=m.promulgated, effective=m.enforced, source_name=source_name, source_sha256=sha256,
            law_num=m.law_num, revision_id=m.revision_id,
            source_url=m.source_url or EGOV_URL.format(law_id=m.law_id), aliases=aliases,
        )
        clauses = tuple(c if c.edition == edition else _with_edition(c, edition) for c in self.clauses)
        return ParsedDocument(doc, clauses, "\n\n".join(self.parts))

    def _unique(self, section: str) -> str:
        if section not in self._seen:
            return section
        i = 2
        while f"{section}[{i}]" in self._seen:
            i += 1
        log.debug("%s: section %s repeats; kept as %s[%d]", self.name, section, section, i)
        return f"{section}[{i}]"

    def _add(self, section: str, kind: str, parent: str | None, heading: str, text: str,
             start: int | None = None, citation: str | None = None) -> None:
        self._seen.add(section)
        if start is None:
            start = self._pos
            if kind in ("article", "table", "group"):
                self.parts.append(text)
                self._pos += len(text) + 2
        c = Clause(doc_id=self.meta.law_id, edition=1, section=section, kind=kind,  # type: ignore[arg-type]
                   parent=parent, heading=heading, text=text,
                   citation=citation or f"{self.label} {section}", order=len(self.clauses),
                   start=max(start, 0), end=max(start, 0) + len(text))
        self.clauses.append(c)


def _paragraph_number(number: str, default: int) -> int:
    try:
        return kanji_to_int(number) if number else default
    except ValueError:
        return default


def lines_for(p: LawParagraph, head: str) -> str:
    return f"{head}　{p.text}".rstrip() if head else p.text


def _caption(caption: str) -> str:
    return " ".join(caption.split())


def _with_edition(c: Clause, edition: int) -> Clause:
    from dataclasses import replace

    return replace(c, edition=edition)
