"""PDFs through the whole pipeline: the bundled documents rendered as PDFs parse to the same clauses as their text
files, and underlined runs become ``Clause.changed_spans``.

How the PDFs are made (``tests.pdfgen.render_text_pdf``, reportlab's HeiseiMin-W3): each seed text file as it is,
hard-wrapped like a word processor (40 characters a line on A4 portrait, 60 on A4 landscape), with a running
header and a page number "- N -" on every page. For slides and notices, whose sections are pages, every page that
``guess_pages`` finds in the text file starts a new PDF page and fits on it, so text page N is PDF page N and the
section ids ("p3") agree; a page with less than 40 characters (a title slide) is merged into the next page, for
PDFs exactly as for text, and the section keeps the number of its first page.

What "the same" means: the same section ids in the same order, the same parents and kinds, clause texts equal once
all white space is removed (wrapping moves line breaks), Q&A item headings (the question) equal the same way, and
the same document metadata. Two things are allowed to differ, both artefacts of the test set-up, not of the
parser: the headings of 要綱 sub-items and of pages are their first line, so the PDF's is a prefix of the text
file's; and a few characters do not survive the test font (reportlab's non-embedded HeiseiMin-W3 with the
UniJIS-UCS2-H encoding, read back through pdfminer's Adobe-Japan1 map): ～ (U+FF5E) comes back as 〜 (U+301C), one
glyph for both (search folds the two anyway, ``corpus.textnorm.fold``), and characters outside the encoding (㉑–㊵,
︓ U+FE13) are not drawn at all. Which characters those are is measured, not assumed: ``font_round_trip`` renders
every character of the sources and reads it back, and the text side is translated with what it finds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from corpus.model import ParsedDocument
from ingest.clean import clean_line
from ingest.parse_pages import guess_pages
from ingest.pipeline import BundledEntry, Overrides, bundled_entries, parse_file
from ingest.textio import read_text_file
from tests.pdfgen import DECOY_UNDERLINED, render_text_pdf, write_decoy_pdf

PORTRAIT_CHARS, LANDSCAPE_CHARS = 40, 60
MIN_LINES_PER_PAGE = 40


def squash(text: str | None, table: dict[int, str] | None = None) -> str:
    return re.sub(r"\s+", "", (text or "").translate(table or {}))


def font_round_trip(chars: set[str], dest: Path) -> dict[int, str]:
    """``str.translate`` table of the characters that the test font does not give back as themselves."""
    from ingest.pdf import extract_pdf

    sep = "〓"
    probe = sorted(ch for ch in chars if not ch.isspace() and ch != sep)
    rows = [sep + sep.join(probe[i:i + 20]) + sep for i in range(0, len(probe), 20)]
    pages = extract_pdf(render_text_pdf(dest, "\n".join(rows), header=None, page_numbers=False,
                                        chars_per_line=100, lines_per_page=60))
    back = [line for p in pages for line in p.text.split("\n")]
    assert len(back) == len(rows)
    table: dict[int, str] = {}
    for row, line in zip(rows, back, strict=True):
        assert line.count(sep) == row.count(sep), line
        for sent, got in zip(row.split(sep), line.split(sep), strict=True):
            if sent != got:
                table[ord(sent)] = got
    return table


@dataclass
class Pair:
    entry: BundledEntry
    pdf_path: Path
    pdf_pages: int
    text_pages: int
    text: ParsedDocument
    pdf: ParsedDocument
    font: dict[int, str]  # what the test font does to characters (see the module docstring)


def _page_layout(raw: str, chars_per_line: int) -> tuple[list[int], int, int]:
    """(source line indexes where ``guess_pages`` starts a page, rows the fullest page needs, number of pages)."""
    sources = raw.split("\n")
    lines = guess_pages(raw)
    nonblank = [i for i, s in enumerate(sources) if clean_line(s)]
    assert len(nonblank) == len(lines)
    breaks = [nonblank[k] for k in range(1, len(lines)) if lines[k].page != lines[k - 1].page]
    bounds = [0, *breaks, len(sources)]
    rows = max(
        sum(max(1, math.ceil(len(s) / chars_per_line)) for s in sources[a:b]) for a, b in zip(bounds, bounds[1:])
    )
    return breaks, rows, lines[-1].page or 1


def _render(entry: BundledEntry, dest: Path) -> tuple[Path, int]:
    raw = read_text_file(entry.path).replace("\r\n", "\n")
    kind = entry.overrides.kind
    if kind in ("slides", "notice"):
        landscape = kind == "slides"
        chars = LANDSCAPE_CHARS if landscape else PORTRAIT_CHARS
        breaks, rows, pages = _page_layout(raw, chars)
        render_text_pdf(dest, raw, page_breaks=breaks, landscape=landscape, chars_per_line=chars,
                        lines_per_page=max(MIN_LINES_PER_PAGE, rows))
        return dest, pages
    render_text_pdf(dest, raw, chars_per_line=PORTRAIT_CHARS, lines_per_page=MIN_LINES_PER_PAGE)
    return dest, 1


def _page_count(path: Path) -> int:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return len(pdf.pages)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pair]:
    out = tmp_path_factory.mktemp("pdf-ingest")
    entries = [e for e in bundled_entries() if e.overrides.kind != "law"]  # the statutes are not PDFs
    font = font_round_trip(set("".join(read_text_file(e.path) for e in entries)), out / "font-probe.pdf")
    # only a handful of characters may be lost to the font, or the comparison would prove little
    assert len(font) <= 30 and set(font.values()) <= {"", "\u301c"}, font
    result = {}
    for entry in entries:
        doc_id = entry.overrides.doc_id or ""
        pdf_path, text_pages = _render(entry, out / f"{doc_id}.pdf")
        result[doc_id] = Pair(entry, pdf_path, _page_count(pdf_path), text_pages,
                              parse_file(entry.path, entry.overrides), parse_file(pdf_path, entry.overrides), font)
    return result


DOC_IDS = [e.overrides.doc_id for e in bundled_entries() if e.overrides.kind != "law"]


def test_all_five_bundled_documents_are_rendered(pairs: dict[str, Pair]) -> None:
    assert len(pairs) == 5 and {p.entry.overrides.kind for p in pairs.values()} == {"qa", "youkou", "slides", "notice"}
    for p in pairs.values():
        assert p.pdf.document.source_name.endswith(".pdf")
        assert p.pdf_pages >= 3  # enough pages for the running header to be recognised as one


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_pdf_has_the_same_sections_and_parents(pairs: dict[str, Pair], doc_id: str) -> None:
    p = pairs[doc_id]
    assert [(c.section, c.parent, c.kind) for c in p.pdf.clauses] == [(c.section, c.parent, c.kind) for c in p.text.clauses]


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_pdf_clause_texts_equal_modulo_white_space(pairs: dict[str, Pair], doc_id: str) -> None:
    p = pairs[doc_id]
    for t, q in zip(p.text.clauses, p.pdf.clauses, strict=True):
        assert squash(q.text) == squash(t.text, p.font), t.section
        assert squash(q.answer) == squash(t.answer, p.font), t.section
        assert p.pdf.text[q.start:q.end] == q.text
        assert q.changed_spans == ()  # nothing is underlined in these PDFs


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_pdf_headings_agree(pairs: dict[str, Pair], doc_id: str) -> None:
    p = pairs[doc_id]
    for t, q in zip(p.text.clauses, p.pdf.clauses, strict=True):
        if t.kind in ("item", "group", "preamble") or p.entry.overrides.kind == "qa":
            assert squash(q.heading) == squash(t.heading, p.font), t.section  # the whole question, for Q&A items
        else:
            # 要綱 sub-items and pages are headed by their first line, which wrapping shortens
            assert q.heading and squash(t.heading, p.font).startswith(squash(q.heading)), t.section


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_pdf_document_metadata_agrees(pairs: dict[str, Pair], doc_id: str) -> None:
    t, q = pairs[doc_id].text.document, pairs[doc_id].pdf.document
    for field in ("id", "kind", "title", "label", "edition", "edition_label", "issued", "effective"):
        want = getattr(t, field)
        assert getattr(q, field) == (want.translate(pairs[doc_id].font) if isinstance(want, str) else want), field
    assert q.source_sha256 != t.source_sha256


@pytest.mark.parametrize("doc_id", ["pmh-senko-r5", "iryo-dx-pmh", "jimu-renraku-20250522"])
def test_page_sections_are_numbered_by_pdf_page(pairs: dict[str, Pair], doc_id: str) -> None:
    p = pairs[doc_id]
    assert p.pdf_pages == p.text_pages  # text page N was rendered on PDF page N
    for t, q in zip(p.text.clauses, p.pdf.clauses, strict=True):
        assert q.section == f"p{q.pages[0]}" and q.pages == t.pages, t.section


def test_running_header_and_page_numbers_stay_out_of_clauses(pairs: dict[str, Pair]) -> None:
    for p in pairs.values():
        for c in p.pdf.clauses:
            assert "医療費助成資料" not in squash(c.text), (p.entry.overrides.doc_id, c.section)
            assert not re.search(r"(?m)^-\s*\d+\s*-$", c.text), (p.entry.overrides.doc_id, c.section)


def test_qa_items_run_on_over_page_breaks(pairs: dict[str, Pair]) -> None:
    qa = pairs["hojokin-qa"].pdf
    items = [c for c in qa.clauses if c.kind == "item"]
    spanning = [c for c in items if len(c.pages) > 1]
    assert len(items) == 27 and spanning  # some items cross a page break, and are still one clause each
    for c in spanning:
        assert c.heading and c.answer


PAGE_BREAK_QA = [
    "令和9年度 テスト事業補助金に関するQ&A", "(第3版)", "令和9年4月1日", "1. 申請",
    "1-1 申請書の提出期限について、年度の途中で",  # the question runs on over a page break …
    "変更されることはあるか。",
    "→ 変更されることはない。ただし、災害等の",  # … and so does a sentence of the answer
    "やむを得ない事情がある場合は、この限りでない。",
    "1-2 様式は自治体ごとに定めてよいか。",  # an answer without a marker (→, ・ …), after a page break
    "定めてよい。",
    "1-3 最後の問い。", "→ 最後の答え。",
]


def test_page_breaks_change_nothing(tmp_path: Path) -> None:
    """The same Q&A as a text file and as a PDF with page breaks inside a question, inside a sentence and between
    a question and its unmarked answer: identical clauses (a page break is not a paragraph or a question's end)."""
    source = "\n".join(PAGE_BREAK_QA)
    txt = tmp_path / "qa.txt"
    txt.write_text(source, encoding="utf-8")
    breaks = [PAGE_BREAK_QA.index(s) for s in ("変更されることはあるか。", "やむを得ない事情がある場合は、この限りでない。", "定めてよい。")]
    pdf = render_text_pdf(tmp_path / "qa.pdf", source, page_breaks=breaks)
    from_text, from_pdf = parse_file(txt, Overrides(doc_id="qa")), parse_file(pdf, Overrides(doc_id="qa"))
    assert [(c.section, c.heading, c.text, c.answer) for c in from_pdf.clauses] == [
        (c.section, c.heading, c.text, c.answer) for c in from_text.clauses]
    pages = {c.section: c.pages for c in from_pdf.clauses}
    assert pages["1-1"] == (1, 2, 3) and pages["1-2"] == (3, 4)
    c = next(c for c in from_pdf.clauses if c.section == "1-1")
    assert c.heading == "申請書の提出期限について、年度の途中で変更されることはあるか。"
    assert "災害等のやむを得ない事情" in c.text
    assert from_pdf.document.title == from_text.document.title and from_pdf.document.edition == 3


def test_short_slide_is_merged_into_the_next_page(tmp_path: Path) -> None:
    """A title slide under 40 characters is no section of its own: it opens the next page's section, which is
    numbered by its first page (p1), as for text files; the other slides keep their page numbers."""
    slides = [
        "令和9年度 説明資料",
        "事業の概要として、自治体システムの改修に係る経費を補助する。補助率は十分の十とする。",
        "申請の手続として、所要額調査票を都道府県経由で提出する。提出期限は六月末日とする。",
        "問い合わせ先として、担当課の電子メールアドレスを記載する。電話での照会は受け付けない。",
    ]
    pdf = render_text_pdf(tmp_path / "deck.pdf", "\n\f\n".join(slides), landscape=True, chars_per_line=60)
    parsed = parse_file(pdf, Overrides(doc_id="deck"))
    assert parsed.document.kind == "slides"  # detected: landscape pages, no other structure
    assert [(c.section, c.pages) for c in parsed.clauses] == [("p1", (1, 2)), ("p3", (3,)), ("p4", (4,))]
    assert parsed.clauses[0].text.startswith("令和9年度 説明資料")


def test_landscape_is_reported_for_slides(pairs: dict[str, Pair]) -> None:
    from ingest.pipeline import _read_lines

    assert _read_lines(pairs["pmh-senko-r5"].pdf_path)[1] is True
    assert _read_lines(pairs["hojokin-qa"].pdf_path)[1] is False


def test_slide_kind_detected_from_landscape_pages(pairs: dict[str, Pair]) -> None:
    parsed = parse_file(pairs["iryo-dx-pmh"].pdf_path, Overrides(doc_id="slides-no-kind"))
    assert parsed.document.kind == "slides"


# ---------------------------------------------------------------- underlines -> changed spans
QA_TITLE = ["令和9年度 テスト事業補助金に関するQ&A", "(第3版)", "", "令和9年4月1日", ""]
UNDERLINED = [
    "令和10年3月31日まで延長",  # a short run inside a line
    "補助対象経費には、システム改修に係る経費のほか、データ移行及び職員研修に係る経費を含むものとする",  # wraps
    "様式第2号",
]


def _qa_source() -> str:
    body = [
        "1. スケジュール",
        "",
        "1-1 申請期限はいつまでか。",
        "→ 申請期限は、令和10年3月31日まで延長することとした。詳細は別途通知する。",
        "",
        "1-2 補助対象経費の範囲を教えてほしい。",
        "→ 補助対象経費には、システム改修に係る経費のほか、データ移行及び職員研修に係る経費を含むものとする。",
        "・ なお、経費の区分は従前のとおりとする。",
        "",
        "2. 手続",
        "",
        "2-1 申請書の様式は変わるか。",
        "→ 申請書は様式第2号を用いること。添付書類に変更はない。",
        "",
        "2-2 変更のない項目の例。",
        "→ この回答には下線がない。",
    ]
    return "\n".join(QA_TITLE + body)


def _span_texts(parsed: ParsedDocument) -> dict[str, list[str]]:
    return {c.section: [c.text[s.start:s.end] for s in c.changed_spans] for c in parsed.clauses if c.changed_spans}


@pytest.mark.parametrize("style", ["rect", "line", "dotted"])
def test_underlined_runs_become_changed_spans(tmp_path: Path, style: str) -> None:
    pdf = render_text_pdf(tmp_path / "qa.pdf", _qa_source(), underline=UNDERLINED, underline_style=style,
                          lines_per_page=8)  # ≥ 3 pages, so that the header is recognised as a running header
    parsed = parse_file(pdf, Overrides(doc_id="test-qa"))
    assert parsed.document.kind == "qa" and parsed.document.edition == 3
    assert [c.section for c in parsed.clauses if c.kind == "item"] == ["1-1", "1-2", "2-1", "2-2"]
    spans = _span_texts(parsed)
    assert set(spans) == {"1-1", "1-2", "2-1"}
    assert spans["1-1"] == [UNDERLINED[0]]
    assert spans["2-1"] == [UNDERLINED[2]]
    # the long run wraps over three lines of the PDF: it is still one span, exactly the run
    assert spans["1-2"] == [UNDERLINED[1]]
    c = next(c for c in parsed.clauses if c.section == "1-2")
    assert c.text.count("\n") == 2  # question / answer / bullet: the underline did not change the paragraphs
    # the spans are offsets into the answer part of the clause text, and the document text agrees
    for c in parsed.clauses:
        for s in c.changed_spans:
            assert c.answer and c.text[s.start:s.end] in c.answer
            assert parsed.text[c.start + s.start:c.start + s.end] == c.text[s.start:s.end]


def test_underline_across_a_page_break_is_kept_on_both_pages(tmp_path: Path) -> None:
    lines = [*QA_TITLE, "1-1 期限はいつか。", "→ " + "本文。" * 5, "・ 期限は令和10年3月31日まで延長する。", "1-2 次の問い。", "→ 答え。"]
    source = "\n".join(lines)
    pdf = render_text_pdf(tmp_path / "qa.pdf", source, underline=["期限は令和10年3月31日まで延長する"],
                          page_breaks=[lines.index("・ 期限は令和10年3月31日まで延長する。")])
    parsed = parse_file(pdf, Overrides(doc_id="test-qa", kind="qa"))
    c = next(c for c in parsed.clauses if c.section == "1-1")
    assert c.pages == (1, 2)
    assert _span_texts(parsed) == {"1-1": ["期限は令和10年3月31日まで延長する"]}


def test_underline_at_a_paragraph_edge_keeps_paragraphs(tmp_path: Path) -> None:
    source = "\n".join([*QA_TITLE, "1. 申請", "1-1 問い。", "→ 答えの一文目。", "二文目は下線なし。",
                        "1-2 問い二。", "→ 答え二の前半で", "・ 箇条書きが続く。"])
    plain_pdf = render_text_pdf(tmp_path / "plain.pdf", source, lines_per_page=5)
    marked_pdf = render_text_pdf(tmp_path / "marked.pdf", source, lines_per_page=5,
                                 underline=["答えの一文目。", "・ 箇条書きが続く。"])
    plain_doc = parse_file(plain_pdf, Overrides(doc_id="x"))
    marked_doc = parse_file(marked_pdf, Overrides(doc_id="x"))
    assert [c.text for c in marked_doc.clauses] == [c.text for c in plain_doc.clauses]


def test_decoys_give_no_changed_spans(tmp_path: Path) -> None:
    """Header rule, ruled tables, a strike-through, boxes and separator rules: only the one real underline counts."""
    parsed = parse_file(write_decoy_pdf(tmp_path / "decoy.pdf"), Overrides(doc_id="decoy", kind="notice"))
    assert [s for spans in _span_texts(parsed).values() for s in spans] == [DECOY_UNDERLINED]


def test_pdf_without_underlines_has_no_spans_and_private_use_text_is_not_a_mark(tmp_path: Path) -> None:
    """A PDF whose text holds U+E000/U+E001 (private-use code points, used for 外字) forges no span."""
    source = "\n".join([*QA_TITLE, "1-1 外字\ue000を含む問い。", "→ 答え\ue001です。", "1-2 次の問い。", "→ 答え。"])
    parsed = parse_file(render_text_pdf(tmp_path / "pua.pdf", source), Overrides(doc_id="pua", kind="qa"))
    assert all(c.changed_spans == () for c in parsed.clauses)
