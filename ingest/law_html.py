"""e-Gov 法令検索's HTML rendering of a law -> cited clauses (lxml; the inline style and page chrome are ignored).

The file name carries what the page does not: ``<LawID>_<YYYYMMDD>_<revision>.html`` (the date is the enforcement
date of that revision). Articles are ``section.Article`` (caption ``div._div_ArticleCaption``, number and first
paragraph ``div._div_ArticleTitle``, further paragraphs ``div._div_ParagraphSentence``, items
``div._div_ItemSentence``); 編/章/節 titles, 附則 (``section.SupplProvision``) and 別表 (``section.AppdxTable``) have
their own classes.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import lxml.html
from lxml import etree

from corpus.errors import IngestError, UnreadableText
from ingest.law_build import EGOV_URL, LawBuilder, LawItem, LawMeta, LawParagraph

FILE_NAME = re.compile(r"^([0-9A-Za-z]{10,20})_(\d{8})_([0-9A-Za-z]{10,20})$")
_NOISE = ('//*[@class="_shokanBox" or @class="_inyoBox" or @class="_shokanBtnIcons"]'
          ' | //rt | //rp | //style | //script | //header | //footer | //nav')
_GROUP_CLASSES = ("_div_PartTitle", "_div_ChapterTitle", "_div_SectionTitle", "_div_SubsectionTitle",
                  "_div_DivisionTitle")
_SUBITEM = re.compile(r"_div_Subitem\d+Sentence|_div_ListSentence|_div_Sentence")


class NotALaw(IngestError):
    """The file is not an e-Gov law page (or a law Markdown file)."""


class TruncatedLaw(IngestError):
    """The law file ends before the page does (cut off in a download or copy)."""


def meta_from_name(path: Path) -> tuple[str, dt.date | None, str | None]:
    """(LawID, enforcement date, revision id) from ``<LawID>_<YYYYMMDD>_<revision>.html``."""
    m = FILE_NAME.match(path.stem)
    if not m:
        raise NotALaw(str(path), "the file name does not carry an e-Gov LawID",
                      "name it <LawID>_<YYYYMMDD>_<revision>.html as e-Gov does (e.g. "
                      "340AC0000000141_20240919_506AC0000000053.html)")
    law_id, date, rev = m.groups()
    try:
        enforced: dt.date | None = dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
    except ValueError:
        enforced = None
    return law_id, enforced, f"{law_id}_{date}_{rev}"


def _classes(el: etree._Element) -> str:
    return el.get("class") or ""


def _text(el: etree._Element) -> str:
    return "".join(el.itertext()).strip()


def _number_and_text(div: etree._Element) -> tuple[str, str]:
    """(「第二十条」 or 「２」 or 「一」, the rest) of a sentence div whose number is a bold span."""
    full = _text(div)
    bold = div.find("span")
    number = (bold.text or "").strip() if bold is not None and "bold" in (bold.get("style") or "") else ""
    if number and full.startswith(number):
        return number, full[len(number):].lstrip("\u3000 ")
    head, sep, rest = full.partition("\u3000")
    return (head, rest) if sep and len(head) <= 20 else ("", full)


def parse_law_html(data: bytes, path: Path) -> LawBuilder:
    """Parse one e-Gov law page. Raises NotALaw, TruncatedLaw or UnreadableText naming the file."""
    name = str(path)
    law_id, enforced, revision = meta_from_name(path)
    if not data.rstrip().lower().endswith(b"</html>"):
        raise TruncatedLaw(name, "the page ends before </html> (truncated)", "copy or download the file again")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnreadableText(name, f"not valid UTF-8 at byte {e.start}", "e-Gov pages are UTF-8; fetch it again") from e
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as e:
        raise NotALaw(name, f"not an HTML page ({e})") from e
    title_el = root.find(".//*[@id='lawTitle']")
    main = root.xpath("//section[contains(concat(' ', @class, ' '), ' MainProvision ')]")
    if title_el is None or not main:
        raise NotALaw(name, "an HTML page, but not an e-Gov law page (no law title or main provision)",
                      "ingest e-Gov 法令検索 law pages, or convert other pages to text first")
    for bad in root.xpath(_NOISE):
        bad.drop_tree()
    number_el = root.find(".//*[@id='lawTitleNo']")
    meta = LawMeta(law_id=law_id, title=" ".join(_text(title_el).split()),
                   law_num=_text(number_el) or None if number_el is not None else None,
                   revision_id=revision, promulgated=None, enforced=enforced,
                   source_url=EGOV_URL.format(law_id=law_id))
    builder = LawBuilder(meta, name)
    _walk(root.find("body") if root.find("body") is not None else root, builder)
    return builder


def _walk(el: etree._Element, b: LawBuilder) -> None:
    for child in el:
        if not isinstance(child.tag, str):
            continue
        cls = _classes(child)
        words = set(cls.split())
        if child.tag == "section":
            if "TOC" in words:
                continue
            if "MainProvision" in words:
                b.main()
                _walk(child, b)
            elif "SupplProvision" in words:
                label = child.find(".//div[@class]")
                b.suppl(_text(label) if label is not None and "SupplProvisionLabel" in _classes(label) else "附則")
                _walk(child, b)
            elif "Article" in words:
                _article(child, b)
            elif "Paragraph" in words:
                _standalone_paragraph(child, b)
            elif words & {"AppdxTable", "SupplProvisionAppdxTable"}:
                if "AppdxTable" in words:
                    b.main()  # the law's 別表 follow its 附則 in the page but belong to the main provision
                _table(child, b)
            elif words & {"AppdxStyle", "AppdxFormat", "AppdxFig", "AppdxNote", "SupplProvisionAppdxStyle"}:
                continue  # forms and figures: nothing to cite by text
            else:
                _walk(child, b)
        elif child.tag == "div":
            if any(c in cls for c in _GROUP_CLASSES) and "TOC" not in cls:
                b.group(_text(child))
            elif "_div_" not in cls:
                _walk(child, b)
        elif child.tag in ("main", "article", "span", "form"):
            _walk(child, b)


def _sentences(sec: etree._Element) -> tuple[str, str, list[LawParagraph]]:
    """(article title, caption, paragraphs) from the sentence divs of an article or paragraph section."""
    title, caption, pending_caption = "", "", ""
    paragraphs: list[LawParagraph] = []
    number, text, items = "", "", []  # the paragraph being read
    started = False

    def flush() -> None:
        if started:
            paragraphs.append(LawParagraph(number, text, tuple(items), pending))

    pending = ""
    for div in sec.iter("div"):
        cls = _classes(div)
        if "_div_ArticleCaption" in cls:
            caption = _text(div)
        elif "_div_ParagraphCaption" in cls:
            pending_caption = _text(div)
        elif "_div_ArticleTitle" in cls:
            flush()
            title, text = _number_and_text(div)
            number, items, started, pending = "", [], True, pending_caption
        elif "_div_ParagraphSentence" in cls:
            flush()
            number, text = _number_and_text(div)
            items, started, pending = [], True, pending_caption
            pending_caption = ""
        elif "_div_ItemSentence" in cls:
            n, _ = _number_and_text(div)
            items.append(LawItem(n, _text(div)))
        elif _SUBITEM.search(cls):
            line = _text(div)
            if items:
                items[-1] = LawItem(items[-1].number, items[-1].text + "\n" + line)
            elif started:
                text = f"{text}\n{line}"
    flush()
    return title, caption, paragraphs


def _article(sec: etree._Element, b: LawBuilder) -> None:
    title, caption, paragraphs = _sentences(sec)
    if title and paragraphs:
        b.article(title, caption, paragraphs)


def _standalone_paragraph(sec: etree._Element, b: LawBuilder) -> None:
    _, _, paragraphs = _sentences(sec)
    for p in paragraphs:
        b.paragraph(p.caption, p)


def _table(sec: etree._Element, b: LawBuilder) -> None:
    title_el = sec.find(".//div[@class]")
    title = _text(title_el) if title_el is not None and "Title" in _classes(title_el) else "別表"
    rows: list[tuple[str, str]] = []
    lines = [title]
    for tr in sec.iter("tr"):
        cells = [" ".join(_text(td).split()) for td in tr if isinstance(td.tag, str) and td.tag in ("td", "th")]
        cells = [c for c in cells if c]
        if not cells:
            continue
        lines.append("\u3000".join(cells))
        rows.append((cells[0], "\u3000".join(cells)))
    for div in sec.iter("div"):  # remarks (備考) under the table
        if "Remarks" in _classes(div) or "_div_Sentence" in _classes(div):
            lines.append(_text(div))
    b.table(title, rows, "\n".join(x for x in lines if x))
