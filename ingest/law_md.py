"""A law as Markdown generated from the e-Gov law API (front matter, ``### 第N条``, ``**２**``, ``**一**``) -> clauses.

The format (see ../shared/corpora/README.md): YAML-style front matter with ``law_id``, ``law_revision_id``,
``law_num``, ``promulgation_date``, ``enforcement_date`` and ``source``; ``# title``; ``##``/``###`` headings for
編/章/節, ``附 則`` and ``別表``; ``### 第N条`` articles; ``**２**`` paragraph numbers, ``**一**`` item numbers, ``**イ**``
sub-items, each on its own line before its text. A 別表 is one ``> `` line whose rows are separated by spaces and led
by their numbers (「四十 都道府県教育委員会又は市町村教育委員会 学校保健安全法…」).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

from corpus.errors import IngestError, UnreadableText
from corpus.lawcite import KANJI_NUM
from ingest.law_build import LawBuilder, LawItem, LawMeta, LawParagraph

_FRONT_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_ARTICLE = re.compile(rf"^第[{KANJI_NUM}\d]+条(?:の[{KANJI_NUM}\d]+)*(?:(?:から|及び).*)?$")
_GROUP = re.compile(rf"^第[{KANJI_NUM}\d]+(?:の[{KANJI_NUM}\d]+)*[編章節款目](?:\s|$)")
_NUMBER = re.compile(r"^\*\*(.+?)\*\*\s*(.*)$")
_PARA_NUMBER = re.compile(r"^[0-9０-９]+$")
_ITEM_NUMBER = re.compile(rf"^[{KANJI_NUM}]+(?:の[{KANJI_NUM}]+)*(?:(?:から|及び)[{KANJI_NUM}の]+(?:まで)?)?$")
_ROW_START = re.compile(rf"^[{KANJI_NUM}]+(?:の[{KANJI_NUM}]+)*$")
REQUIRED = ("law_id",)


class MissingFrontMatter(IngestError):
    """A Markdown law file without the front matter that names the law."""


def has_law_front_matter(text: str) -> bool:
    head = text.lstrip("\ufeff")[:2000]
    return head.startswith("---") and re.search(r"^law_id\s*:", head, re.M) is not None


def front_matter(text: str, name: str) -> tuple[dict[str, str], list[str]]:
    """(front matter fields, the lines after it). Raises MissingFrontMatter."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise MissingFrontMatter(name, "no front matter (a first line '---' and law_id, law_num, … fields)",
                                 "law Markdown files start with front matter naming law_id; "
                                 "ingest other Markdown as text with --kind")
    fields: dict[str, str] = {}
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            missing = [k for k in REQUIRED if not fields.get(k)]
            if missing:
                raise MissingFrontMatter(name, f"front matter lacks {', '.join(missing)}",
                                         "add law_id (the e-Gov LawID) to the front matter")
            return fields, lines[i + 1:]
        m = _FRONT_KEY.match(line)
        if m:
            fields[m.group(1)] = m.group(2).strip().strip('"').strip("'")
    raise MissingFrontMatter(name, "the front matter is not closed by a '---' line", "the file may be truncated")


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def parse_law_md(data: bytes, path: Path) -> LawBuilder:
    name = str(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnreadableText(name, f"not valid UTF-8 at byte {e.start}", "save the file as UTF-8") from e
    fields, lines = front_matter(text, name)
    title = next((m.group(2) for ln in lines if (m := _HEADING.match(ln)) and len(m.group(1)) == 1), None)
    if not title:
        raise IngestError(name, "no '# title' line after the front matter", "the law's title must be a '# ' heading")
    meta = LawMeta(law_id=fields["law_id"], title=title, law_num=fields.get("law_num"),
                   revision_id=fields.get("law_revision_id"), promulgated=_date(fields.get("promulgation_date")),
                   enforced=_date(fields.get("enforcement_date")), source_url=fields.get("source") or None)
    builder = LawBuilder(meta, name)
    _Reader(builder).read(lines)
    return builder


class _Reader:
    """A line-by-line state machine: the article, paragraph, item or 別表 being read."""

    def __init__(self, b: LawBuilder) -> None:
        self.b = b
        self.article: str | None = None  # the article title being read
        self.paragraphs: list[LawParagraph] = []
        self.para: list[str] | None = None  # [number, text]
        self.items: list[LawItem] = []
        self.in_suppl = False
        self.table: tuple[str, list[str]] | None = None  # (title, lines)

    def read(self, lines: list[str]) -> None:
        started = False
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            h = _HEADING.match(line)
            if h:
                level, title = len(h.group(1)), h.group(2)
                if level == 1:
                    started = True
                    continue
                self._heading(title)
                continue
            if not started or (self.article is None and self.table is None and not self.in_suppl
                               and line.startswith("**") and ":**" in line):
                continue  # the 法令番号/公布日/e-Gov lines under the title
            if self.table is not None:
                self.table[1].append(line)
                continue
            n = _NUMBER.match(line)
            if n:
                self._number(n.group(1).strip(), n.group(2))
                continue
            self._text(line.lstrip("> ").strip())
        self._flush()

    def _heading(self, title: str) -> None:
        t = unicodedata.normalize("NFKC", title).replace(" ", "").replace("\u3000", "")
        if t.startswith("附則"):
            self._flush()
            self.b.suppl("附則")
            self.in_suppl = True
        elif t.startswith("別表"):
            self._flush()
            self.b.main()  # the law's 別表 follow its 附則 in the file but belong to the main provision
            self.in_suppl = False
            if self.table is not None and not any(x.startswith(">") for x in self.table[1]):
                self.table = None  # a 別表 heading repeated with no table under the first: keep the second
            self._flush()
            self.table = (title, [])
        elif _ARTICLE.match(t):
            self._flush()
            self.article = title.strip()
        elif _GROUP.match(unicodedata.normalize("NFKC", title)):
            self._flush()
            self.b.group(title)
        else:
            self._text(title)

    def _number(self, number: str, rest: str) -> None:
        folded = unicodedata.normalize("NFKC", number)
        if _PARA_NUMBER.match(folded):
            self._end_paragraph()
            self.para = [number, rest]
            self.items = []
        elif _ITEM_NUMBER.match(folded):
            if self.para is None:
                self.para = ["", ""]
            self.items.append(LawItem(number, f"{number}　{rest}".rstrip("　")))
        elif self.items:  # a sub-item (イ, ロ, （１）) belongs to the item above it
            last = self.items[-1]
            self.items[-1] = LawItem(last.number, f"{last.text}\n{number}　{rest}".rstrip("　"))
        else:
            self._text(f"{number}　{rest}")

    def _text(self, line: str) -> None:
        if self.items:
            last = self.items[-1]
            self.items[-1] = LawItem(last.number, f"{last.text}　{line}")
            return
        if self.para is None:
            self.para = ["", ""]
        self.para[1] += line

    def _end_paragraph(self) -> None:
        if self.para is not None:
            number, text = self.para
            self.paragraphs.append(LawParagraph(number, text, tuple(self.items)))
        self.para, self.items = None, []

    def _flush(self) -> None:
        self._end_paragraph()
        if self.article is not None and self.paragraphs:
            self.b.article(self.article, "", self.paragraphs)
        elif self.paragraphs and self.in_suppl:
            for p in self.paragraphs:
                self.b.paragraph("", p)
        self.article, self.paragraphs = None, []
        if self.table is not None:
            self._emit_table(*self.table)
            self.table = None

    def _emit_table(self, title: str, lines: list[str]) -> None:
        body = [ln.lstrip(">").strip() for ln in lines]
        rows: list[tuple[str, str]] = []
        for ln in lines:
            if ln.startswith(">"):
                rows += _rows(ln.lstrip(">").strip())
        text = "\n".join([title, *(t for _, t in rows)] if rows else [title, *body])
        self.b.table(title, rows, text)


def _rows(line: str) -> list[tuple[str, str]]:
    """Rows of a 別表 written on one line: a token that is a kanji number (「四十」, 「十九の二」) starts a row when it
    comes after the previous row's number, so numbers inside a row's text (rare as bare tokens) stay text."""
    from corpus.lawcite import kanji_to_int

    rows: list[tuple[str, list[str]]] = []
    last: tuple[int, ...] = ()
    for tok in line.split():
        key: tuple[int, ...] | None = None
        if _ROW_START.match(tok):
            try:
                key = tuple(kanji_to_int(x) for x in tok.split("の"))
            except ValueError:
                key = None
        if key is not None and key > last and (not last or key[0] - last[0] <= 1):
            rows.append((tok, []))
            last = key
        elif rows:
            rows[-1][1].append(tok)
    return [(n, f"{n}\u3000{' '.join(ws)}") for n, ws in rows]
