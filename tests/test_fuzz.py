"""Issue 7: property-based fuzzing of the text layer (hypothesis, bounded).

Every property says two things: the function raises nothing but the project's own errors — in fact only the one
``RegkbError`` subclass it documents (``UnrecognisedStructure`` from the structure parsers, ``IngestError``
subclasses from ``parse_file``; ``ValueError`` from ``parse_date``, its contract; nothing at all from the
normalisers, section ids and ``find_refs``) — and something true of its result. ``corpus.diff.inline_diff`` is
fuzzed in tests/test_diff.py and not repeated here.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from corpus.collection import Corpus
from corpus.errors import IngestError, UnrecognisedStructure
from corpus.model import Citation, Clause, Document, ParsedDocument
from corpus.refs import find_refs
from corpus.sections import normalize_section
from corpus.textnorm import first_sentence, fold, repair
from ingest.clean import MARK_END, MARK_START, clean_line, clean_lines, nfkc, unwrap
from corpus.dates import find_dates, parse_date
from ingest.parse_pages import parse_pages
from ingest.parse_qa import parse_qa
from ingest.parse_youkou import KANA, parse_youkou
from ingest.pipeline import Overrides, parse_file
from ingest.structure import Line, RawClause, plain

# Bounded for CI; REGKB_FUZZ_EXAMPLES=5000 searches harder (the slow whole-file property gets a third of it).
_N = int(os.environ.get("REGKB_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=_N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_FUZZ = settings(max_examples=max(1, _N // 3), deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------------------------- alphabets
_JA = ("令和平成昭和元年月日第版の を に は が で と も 医療費助成補助金対象ですか 。、「」『』（）()【】"
       "アイウエオカキクケコサシ ー・※→⇒ 　\t")
_DIGITS = "0123456789０１２３４５６７８９"
_LOOKALIKE = "⑴⑵⑶①②⑩㉑ｱｲｶﾞｰ⾦⻑‧･－‐−–—～〜ＰＭＨ"  # what PDFs and old exports put into Japanese text
_ALPHABET = _JA + _DIGITS + _LOOKALIKE + "-.．*ABCab"
ja_text = st.text(alphabet=_ALPHABET, max_size=40)
any_text = st.one_of(ja_text, st.text(max_size=40))  # the second: all of Unicode (no surrogates)
_WS = " \t\u3000\r\f"
_FW = str.maketrans("0123456789()-", "０１２３４５６７８９（）－")


def digits(n: int, full_width: bool) -> str:
    return str(n).translate(_FW) if full_width else str(n)


def non_space(s: str) -> str:
    return "".join(s.split())


# ----------------------------------------------------------------------------------------------- normaliser
@FUZZ
@given(any_text)
@example("⾦額⻑期‧")
def test_repair_keeps_length_and_only_touches_artefacts(text: str) -> None:
    out = repair(text)
    assert len(out) == len(text)  # one code point for one, so offsets into repaired text hold
    assert repair(out) == out
    for a, b in zip(text, out):
        assert a == b or re.fullmatch("[\u2e80-\u2eff\u2f00-\u2fdf\u2027\uff65]", a), (a, b)


@FUZZ
@given(any_text)
@example("ＰＭＨ－１〜２")
def test_fold_is_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert not re.search("[\u2010-\u2015\u2212\uff0d\u301c\uff5e]", once)  # dashes and waves unified


@FUZZ
@given(any_text)
def test_first_sentence_is_part_of_the_text(text: str) -> None:
    out = first_sentence(text)
    assert out in text
    assert "\n" not in out and out.count("。") <= 1


@FUZZ
@given(any_text)
@example(" **令和8年度\x00**\u3000")
def test_clean_line(text: str) -> None:
    out = clean_line(text)
    assert clean_line(out) == out
    assert out == out.strip(_WS)
    assert "**" not in out
    assert not re.search(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", out)
    # Only control characters, "*" of emphasis marks and outer blanks are dropped; artefacts are repaired.
    expected = repair(re.sub(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", "", text))
    assert non_space(out.replace("*", "")) == non_space(expected.replace("*", ""))


_LINE_HEADS = st.sampled_from(["", "", "→ ", "・", "※", "1-2 ", "１．", "ア ", "（１）", "① ", "【", "A1"])
wrapped_line = st.builds(lambda h, t, end: h + t + end, _LINE_HEADS, ja_text,
                         st.sampled_from(["", "", "。", "：", "」", "1", MARK_START, MARK_END]))


@FUZZ
@given(st.lists(st.one_of(wrapped_line, st.just(""), any_text), max_size=12))
def test_unwrap_never_loses_a_character(lines: list[str]) -> None:
    out = unwrap(lines)
    assert non_space(out) == non_space("".join(lines))
    cleaned = [clean_line(x) for x in lines if "\n" not in x]
    out = unwrap(cleaned)
    assert "\n\n" not in out and not out.startswith("\n") and not out.endswith("\n")
    assert non_space(out) == non_space("".join(cleaned))


@FUZZ
@given(st.text(alphabet=_ALPHABET + "\n\r", max_size=200))
def test_clean_lines_then_unwrap(text: str) -> None:
    lines = clean_lines(text)
    assert len(lines) == text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    assert non_space(unwrap(lines).replace("*", "")) == non_space(repair(text).replace("*", ""))


# ----------------------------------------------------------------------------------------------- section ids
_KANA_ID = st.sampled_from(KANA)


@st.composite
def canonical_section(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["top", "paren", "kana", "paren-kana", "item", "page", "preamble"]))
    n = draw(st.integers(1, 99))
    m = draw(st.integers(1, 99))
    return {"top": f"{n}", "paren": f"{n}({m})", "kana": f"{n}{draw(_KANA_ID)}",
            "paren-kana": f"{n}({m}){draw(_KANA_ID)}", "item": f"{n}-{m}", "page": f"p{n}",
            "preamble": "前文"}[kind]


@st.composite
def spelled(draw: st.DrawFn, section: str) -> str:
    """``section`` as a person or a PDF might write it: full-width digits and brackets, other dashes, spaces."""
    out = []
    for ch in section:
        if ch.isdigit() and draw(st.booleans()):
            ch = ch.translate(_FW)
        elif ch in "()" and draw(st.booleans()):
            ch = ch.translate(_FW)
        elif ch == "-":
            ch = draw(st.sampled_from("-‐−－—ー"))
        out.append(ch + draw(st.sampled_from(["", "", "", " ", "\u3000", "\t"])))
    return draw(st.sampled_from(["", " ", "\u3000"])) + "".join(out)


@FUZZ
@given(st.one_of(any_text, st.text(alphabet=_ALPHABET + "\u0301\u3099 ", max_size=20)))
@example("4 (2) エ")
@example("a \u0308")
@example("ｶ ﾞ")
def test_normalize_section_is_idempotent_and_has_no_blanks(section: str) -> None:
    out = normalize_section(section)
    assert normalize_section(out) == out
    assert not any(ch.isspace() for ch in out)
    assert not re.search("[０-９\u2010-\u2015\u2212\uff0d]", out)


@FUZZ
@given(canonical_section().flatmap(lambda s: st.tuples(st.just(s), spelled(s))))
def test_normalize_section_folds_any_spelling_to_the_canonical_id(pair: tuple[str, str]) -> None:
    canonical, written = pair
    assert normalize_section(written) == canonical
    assert normalize_section(canonical) == canonical
    from eval.question_set import same_section  # the evaluation compares sections with the same normalisation

    assert same_section(written, canonical)


@FUZZ
@given(st.text(min_size=1, max_size=12), canonical_section(), st.one_of(st.none(), st.integers(1, 99)))
def test_citation_renders_label_and_section_recoverably(label: str, section: str, edition: int | None) -> None:
    edition_label = f"第{edition}版" if edition else None
    text = Citation("doc", label, section, edition_label).render()
    assert text.startswith(label) and text.endswith(section)
    middle = text[len(label):len(text) - len(section)]
    assert middle == (f"（{edition_label}）" if edition_label else " ")
    # What a reader copies out of the citation finds the clause again.
    doc = Document("doc", "title", "youkou", label, edition or 1, edition_label)
    clause = Clause("doc", doc.edition, section, "clause", None, "", "本文", doc.citation(section).render())
    assert clause.citation == text
    assert Corpus([ParsedDocument(doc, (clause,), "本文")]).clause("doc", text[len(text) - len(section):]) == clause


# ----------------------------------------------------------------------------------------------- dates
_ERAS = {"令和": (2018, 30), "平成": (1988, 31), "昭和": (1925, 64)}


@st.composite
def era_date(draw: st.DrawFn) -> tuple[str, dt.date]:
    era = draw(st.sampled_from(sorted(_ERAS)))
    base, last = _ERAS[era]
    year = draw(st.integers(1, last))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 31))
    try:
        expected = dt.date(base + year, month, day)
    except ValueError:  # 2月30日: not a date; find_dates skips it (tested below)
        expected = dt.date(base + year, month, 1)
        day = 1
    fw = draw(st.booleans())
    sp = draw(st.sampled_from(["", " ", "\u3000"]))
    y = "元" if year == 1 and draw(st.booleans()) else digits(year, fw)
    text = f"{era}{sp}{y}{sp}年{sp}{digits(month, fw)}{sp}月{sp}{digits(day, draw(st.booleans()))}{sp}日"
    return text, expected


_NO_DATE = st.text(alphabet="です。から適用する通知令和 ", max_size=10)


@FUZZ
@given(era_date(), _NO_DATE, _NO_DATE)
@example(("令和元年5月1日", dt.date(2019, 5, 1)), "", "")
@example(("平成３１年４月３０日", dt.date(2019, 4, 30)), "", "から適用")
@example(("昭和64年1月7日", dt.date(1989, 1, 7)), "", "")
def test_era_dates_convert(case: tuple[str, dt.date], before: str, after: str) -> None:
    text, expected = case
    assert parse_date(text) == expected
    assert parse_date(before + text + after) == expected
    found = find_dates(before + text + after)
    assert [d for _, d in found] == [expected]


@FUZZ
@given(st.one_of(any_text, st.text(alphabet="令和平成昭和元年月日0123456789０１２３ -/", max_size=20)))
@example("令和8年2月30日")
@example("9999年99月99日")
@example("0000年01月01日")
@example("㍻元年1月1日")
def test_parse_date_raises_only_value_error(text: str) -> None:
    try:
        d = parse_date(text)
    except ValueError as e:
        assert "not a date" in str(e)
    else:
        assert isinstance(d, dt.date)
    found = find_dates(text)
    offsets = [pos for pos, _ in found]
    assert offsets == sorted(offsets)
    assert all(0 <= pos < len(unicodedata.normalize("NFKC", text)) for pos in offsets)


@FUZZ
@given(st.dates())
def test_iso_dates_round_trip(d: dt.date) -> None:
    assert parse_date(f" {d.isoformat()} ") == d


# ----------------------------------------------------------------------------------------------- structure parsers
def _num(draw: st.DrawFn, hi: int = 12) -> str:
    return digits(draw(st.integers(0, hi)), draw(st.booleans()))


@st.composite
def structured_line(draw: st.DrawFn) -> str:
    body = draw(ja_text)
    sp = draw(st.sampled_from(["", " ", "\u3000", "  "]))
    kind = draw(st.sampled_from(["item", "split-item", "group", "top", "paren", "circled", "kana", "answer",
                                 "text", "text", "empty"]))
    if kind == "item":
        return f"{_num(draw)}{draw(st.sampled_from('-‐−－'))}{_num(draw)}{sp}{body}"
    if kind == "split-item":  # "2-1 1" is 2-11 split by extraction
        return f"{_num(draw)}-{_num(draw, 9)} {_num(draw, 9)}{sp}{body}"
    if kind == "group":
        return f"{_num(draw)}{draw(st.sampled_from('.．'))}{sp}{body[:20]}"
    if kind == "top":
        return f"{_num(draw)}{sp or ' '}{body[:12]}"
    if kind == "paren":
        return f"{draw(st.sampled_from('(（'))}{_num(draw)}{draw(st.sampled_from(')）'))}{sp}{body}"
    if kind == "circled":
        return f"{draw(st.sampled_from('⑴⑵⑶①②③⑩㉑'))}{sp}{body}"
    if kind == "kana":
        return f"{draw(st.sampled_from(KANA[:6] + 'ｱｲ'))}{sp or ' '}{body}"
    if kind == "answer":
        return f"{draw(st.sampled_from(['→', '・', '-', 'A.']))}{sp}{body}"
    if kind == "empty":
        return ""
    return body


def _lines(texts: list[str], marks: list[bool] | None = None) -> list[Line]:
    """One Line per text, numbered by its index (page = index + 1) so results can be traced back to inputs."""
    out = []
    for i, t in enumerate(texts):
        if marks and marks[i % len(marks)] and len(t) > 2:  # an underlined run, as PDFs produce
            t = t[:1] + MARK_START + t[1:-1] + MARK_END + t[-1:]
        out.append(Line(t, i + 1))
    return out


line_lists = st.tuples(st.lists(structured_line(), max_size=30), st.lists(st.booleans(), max_size=5))


def _prefix_removed(original: str, rest: str, prefix: str) -> None:
    """``rest`` is ``original`` less a number prefix matching ``prefix``: nothing else of the line was dropped."""
    o, r = nfkc(plain(original)), nfkc(plain(rest))
    assert o.endswith(r), (original, rest)
    assert re.fullmatch(prefix, o[: len(o) - len(r)]), (original, rest)


def _unique(raws: list[RawClause]) -> None:
    sections = [r.section for r in raws]
    assert len(sections) == len(set(sections)), sections


@FUZZ
@given(line_lists)
@example((["1. 総論", "1-1 質問ですか", "→ 回答です。", "1-2 次", "2-1 1 割れた番号"], []))
@example((["㉑-1 質問", "⑩-1 質問"], []))
def test_parse_qa(case: tuple[list[str], list[bool]]) -> None:
    lines = _lines(*case)
    try:
        raws = parse_qa(lines, "fuzz.txt")
    except UnrecognisedStructure as e:
        assert "no Q&A items" in str(e)
        return
    _unique(raws)
    groups = {r.section for r in raws if r.kind == "group"}
    assert any(r.kind == "item" for r in raws)
    for r in raws:
        if r.kind == "item":
            assert re.fullmatch(r"\d{1,2}-\d{1,2}", r.section, re.ASCII), r.section
            assert r.parent is None or (r.parent in groups and r.section.startswith(r.parent + "-"))
            first = r.lines[0] if r.lines else r.answer_lines[0]
            _prefix_removed(lines[first.page - 1].text, first.text,  # type: ignore[operator]
                            r"\d{1,2}\s*[-‐−－]\s*\d(\s?\d)?[\s\u3000]*")
        elif r.kind == "group":
            assert re.fullmatch(r"\d{1,2}", r.section, re.ASCII)
        else:
            assert (r.kind, r.section) == ("preamble", "前文")
    _nothing_dropped(lines, raws)


def _nothing_dropped(lines: list[Line], raws: list[RawClause]) -> None:
    """Every non-empty input line is kept, in order, in some clause's lines, or is a clause's heading line."""
    kept = [ln.page for r in raws for ln in r.lines + r.answer_lines]
    assert kept == sorted(kept) and len(kept) == len(set(kept))
    heads = [r.head for r in raws if r.head is not None]
    missing = [ln.text for ln in lines if ln.text and ln.page not in kept]
    assert len(missing) == len(heads) and all(t in heads or t.strip() in heads for t in missing), (missing, heads)


@FUZZ
@given(line_lists)
@example((["実施要綱", "1 目的", "本文。", "⑴ 内容です", "ア 項目です", "イ 次", "（２）　二つ目", "２ 対象"], []))
def test_parse_youkou(case: tuple[list[str], list[bool]]) -> None:
    lines = _lines(*case)
    try:
        raws = parse_youkou(lines, "fuzz.txt")
    except UnrecognisedStructure as e:
        assert "no numbered clauses" in str(e)
        return
    _unique(raws)
    seen: set[str] = set()
    kana = f"[{KANA}]"
    for r in raws:
        if r.kind == "preamble":
            assert r.section == "前文" and not seen
        elif r.parent is None:
            assert re.fullmatch(r"\d{1,2}", r.section, re.ASCII) and r.head
            assert r.heading == plain(r.heading)
            src = next(ln for ln in lines if ln.text.strip() == r.head)
            _prefix_removed(src.text.strip(), r.heading, r"\d{1,2}[\s\u3000]+")
        else:
            assert r.parent in seen, (r.section, r.parent)
            pattern = rf"\d{{1,2}}\(\d{{1,2}}\)|\d{{1,2}}(\(\d{{1,2}}\))?{kana}"
            assert re.fullmatch(pattern, r.section, re.ASCII), r.section
            assert r.section.startswith(r.parent)
            first = r.lines[0]
            prefix = r"[(（]\d{1,2}[)）][\s\u3000]*" if r.section.endswith(")") else rf"{kana}[\s\u3000]+"
            _prefix_removed(lines[first.page - 1].text, first.text, prefix)  # type: ignore[operator]
        seen.add(r.section)
    _nothing_dropped(lines, raws)


@FUZZ
@given(st.lists(st.tuples(st.integers(1, 8), st.one_of(structured_line(), st.sampled_from(["3", "１２"]))),
                max_size=30))
def test_parse_pages(pages: list[tuple[int, str]]) -> None:
    lines = [Line(t, p) for p, t in sorted(pages, key=lambda x: x[0]) if t]
    raws = parse_pages(lines, "fuzz.txt")
    _unique(raws)
    for r in raws:
        assert re.fullmatch(r"p\d+", r.section, re.ASCII) and r.kind == "page" and r.lines
        assert int(r.section[1:]) == min(ln.page or 1 for ln in r.lines)
        assert len(r.heading) <= 60
    # Every line but lone slide numbers ends up in exactly one section, in order.
    kept = [ln for r in raws for ln in r.lines]
    assert [id(x) for x in kept] == [id(x) for x in lines if not re.fullmatch(r"[\d０-９]{1,3}", x.text)]


# ----------------------------------------------------------------------------------------------- whole files
def _encode(text: str, how: str) -> bytes:
    if how == "cp932":
        return text.encode("cp932", errors="ignore")
    if how == "utf-8-sig":
        return text.encode("utf-8-sig")
    return text.encode("utf-8", errors="surrogatepass")


file_bytes = st.one_of(
    st.binary(max_size=600),
    st.binary(max_size=200).map(lambda b: b"%PDF-1.4\n" + b),
    st.tuples(st.lists(structured_line(), max_size=40), st.sampled_from(["utf-8", "cp932", "utf-8-sig"]),
              st.sampled_from(["", "令和8年度 補助金に関するQ&A\n（第2版）\n令和8年3月9日\n", "実施要綱\n", "事務連絡\n"]))
    .map(lambda t: _encode(t[2] + "\n".join(t[0]), t[1])),
    st.tuples(st.text(max_size=200), st.sampled_from(["utf-8", "cp932"])).map(lambda t: _encode(*t)),
)


@SLOW_FUZZ
@given(file_bytes, st.sampled_from([None, None, "qa", "youkou", "notice", "slides"]))
@example("1-1 質問です\n→ 回答です。\n1-2 次の質問\n- 回答\n".encode("cp932"), "qa")
@example(b"\xff\xfe\x00\x00", None)
def test_parse_file_raises_only_ingest_errors(data: bytes, kind: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz-doc.txt"
        path.write_bytes(data)
        try:
            parsed = parse_file(path, Overrides(kind=kind))
        except IngestError as e:
            assert str(path) in str(e)
            return
    doc = parsed.document
    sections = [c.section for c in parsed.clauses]
    assert sections and len(sections) == len(set(sections))
    corpus = Corpus([parsed])
    for c in parsed.clauses:
        assert parsed.text[c.start:c.end] == c.text
        assert MARK_START not in c.text and MARK_END not in c.text
        assert all(0 <= s.start < s.end <= len(c.text) for s in c.changed_spans)
        assert c.citation == doc.citation(c.section).render() and c.citation.endswith(c.section)
        assert normalize_section(c.section) == c.section
        assert corpus.clause(doc.id, c.section) is c  # every citation's section finds its clause


# ----------------------------------------------------------------------------------------------- references
def _clause(doc_id: str, section: str, kind: str = "clause", text: str = "本文") -> Clause:
    return Clause(doc_id, 1, section, kind, None, "", text, section)  # type: ignore[arg-type]


_YOUKOU_SECTIONS = ["1", "2", "4", "4(1)", "4(2)", "4(2)ア", "4(2)エ", "5", "5ウ", "12"]
_QA_SECTIONS = [f"{a}-{b}" for a in (1, 2, 3) for b in range(1, 12)]
_YOUKOU = ParsedDocument(Document("jisshi-youkou", "実施要綱", "youkou", "実施要綱"),
                         tuple(_clause("jisshi-youkou", s) for s in _YOUKOU_SECTIONS), "")
_REF_PIECES = st.one_of(
    ja_text,
    st.sampled_from(["実施要綱", "実施要綱４（２）エ", "実施要綱4(1)及び(2)", "実施要綱5ウ", "実施要綱１２",
                     "実施要綱4(1)、(2)ア並びに(9)", "Q&A", "3-1によって", "２－１１", "1-2-3", "2025/1-2",
                     "1.2-3", "によって", "及び", "(2)", "第2版"]),
    st.builds(lambda a, b: f"{a}-{b}", st.integers(0, 99), st.integers(0, 99)),
)


@FUZZ
@given(st.lists(_REF_PIECES, max_size=8).map("".join), st.sampled_from(_QA_SECTIONS))
@example("実施要綱4（2）エ及び3-1によって", "3-1")
def test_find_refs_points_only_at_existing_clauses(text: str, own: str) -> None:
    qa_clauses = tuple(_clause("hojokin-qa", s, "item", text if s == own else "本文") for s in _QA_SECTIONS)
    qa = ParsedDocument(Document("hojokin-qa", "Q&A", "qa", "Q&A"), qa_clauses, "")
    corpus = Corpus([_YOUKOU, qa])
    clause = qa.clause(own)
    assert clause is not None
    refs = find_refs(clause, qa, corpus)
    assert len(refs) == len(set(refs))
    for key in refs:
        doc_id, rest = key.split("@")
        edition, section = rest.split("#")
        target = corpus.get(doc_id, int(edition)).clause(section)
        assert target is not None and target.key == key
        assert key != clause.key
        if doc_id == "jisshi-youkou":
            assert "実施要綱" in nfkc(text)
        else:  # "1-01" cites 1-1
            a, b = section.split("-")
            assert re.search(rf"(?<!\d)0*{a}-0*{b}(?!\d)", nfkc(text)), (text, section)


@FUZZ
@given(ja_text.filter(lambda t: not re.search(r"[0-9０-９]$", t)), st.sampled_from(_YOUKOU_SECTIONS),
       st.sampled_from(["。", "を", "に基づく", ""]), ja_text)
def test_find_refs_finds_a_written_reference(before: str, section: str, after: str, tail: str) -> None:
    text = f"{before}実施要綱{section.translate(_FW) if len(before) % 2 else section}{after}"
    if after:
        text += tail
    qa = ParsedDocument(Document("hojokin-qa", "Q&A", "qa", "Q&A"), (_clause("hojokin-qa", "1-1", "item", text),), "")
    refs = find_refs(qa.clauses[0], qa, Corpus([_YOUKOU, qa]))
    assert f"jisshi-youkou@1#{section}" in refs, (text, refs)
