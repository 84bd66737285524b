"""Files in, stored document editions out: read, detect, parse, assemble, store — all or nothing."""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from corpus.errors import BadPdf, IngestError, UnrecognisedStructure, UnreadableText
from corpus.model import DEFAULT_LABELS, Document, ParsedDocument
from corpus.store import Store
from corpus.textnorm import fold
from ingest import textio
from ingest.clean import clean_lines, nfkc
from ingest.detect import detect_dates, detect_edition, detect_kind, detect_title, law_format
from ingest.law_ingest import parse_law_path, with_law_edition
from ingest.parse_pages import guess_pages, parse_pages
from ingest.parse_qa import parse_qa
from ingest.parse_youkou import parse_youkou
from ingest.structure import MARK_END, MARK_START, Line, RawClause, assemble, plain

log = logging.getLogger(__name__)

PARSERS: dict[str, Callable[[list[Line], str], list[RawClause]]] = {
    "qa": parse_qa, "youkou": parse_youkou, "notice": parse_pages, "slides": parse_pages,
}
_DOC_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_QA_NUMBER = re.compile(r"^(\d{1,2})\s*[-‐−－]\s*(\d{1,2})[\s\u3000]")
MAX_PDF_PAGES = 2000  # a PDF with more pages is refused from its page count (a "PDF bomb"), before pages are read
MAX_PDF_BYTES = 200 * 1024 * 1024  # the biggest PDF read at all (regulation PDFs are a few MiB)


@dataclass(frozen=True, slots=True)
class Overrides:
    """What the user says about a file, winning over what is detected (CLI flags --doc, --edition …)."""

    doc_id: str | None = None
    kind: str | None = None
    edition: int | None = None
    date: dt.date | None = None
    label: str | None = None
    title: str | None = None
    edition_label: str | None = None
    effective: dt.date | None = None


@dataclass(frozen=True, slots=True)
class BundledEntry:
    path: Path
    overrides: Overrides


def bundled_dir() -> Path:
    return Path(str(resources.files("corpus") / "sources"))


def bundled_entries() -> list[BundledEntry]:
    manifest: dict[str, Any] = json.loads((bundled_dir() / "manifest.json").read_text("utf-8"))
    entries = []
    for d in manifest["documents"]:
        entries.append(BundledEntry(bundled_dir() / d["file"], Overrides(
            doc_id=d["id"], kind=d["kind"], label=d["label"], title=d["title"],
            edition_label=d.get("edition_label"),
            date=dt.date.fromisoformat(d["issued"]) if d.get("issued") else None,
            effective=dt.date.fromisoformat(d["effective"]) if d.get("effective") else None,
        )))
    return entries


def _read_lines(path: Path) -> tuple[list[Line], bool, str, bool]:
    """(lines, landscape, sha256, is_pdf) of a source file. PDFs keep their pages; text pages are guessed.

    The file is checked before its content is read (``textio.open_source``: a regular file, not a symbolic
    link) and refused from its size alone when it is over the limit for its type (``textio.MAX_TEXT_BYTES``
    for text, ``MAX_PDF_BYTES`` for PDFs); PDFs with more than ``MAX_PDF_PAGES`` pages are refused from their
    page count before any page is read.

    From a PDF, every line of every page (running headers, footers and page numbers already removed by
    ``ingest.pdf``) becomes a ``Line`` numbered with its page, exactly as ``guess_pages`` numbers the lines of a
    text file: no blank line is put between pages (nor kept anywhere), so a sentence that runs on over a page
    break is joined by ``unwrap`` and a page break inside a Q&A item neither starts a clause nor cuts the
    question short, and a PDF and a text export of one document parse alike. For slides and notices the
    PDF's page numbers are the section ids ("p3"), with the same rule as for text: a page with less than
    ``parse_pages.MIN_PAGE_CHARS`` characters of text (a title or divider slide) is merged into the next one,
    and the section is numbered by its first page.
    """
    name = str(path)
    with textio.open_source(path) as (fh, st):
        head = fh.read(5)
        is_pdf = path.suffix.lower() == ".pdf" or head == b"%PDF-"
        limit = MAX_PDF_BYTES if is_pdf else textio.MAX_TEXT_BYTES
        if st.st_size > limit:
            raise textio.too_big(name, st.st_size, limit, BadPdf if is_pdf else UnreadableText)
        data = head + textio.read_bounded(fh, limit - len(head))
    if len(data) > limit:  # it grew while being read
        raise textio.too_big(name, len(data), limit, BadPdf if is_pdf else UnreadableText)
    sha = hashlib.sha256(data).hexdigest()
    if is_pdf:
        from ingest.pdf import extract_pdf  # pdfplumber is slow to import; text-only runs skip it

        pages = extract_pdf(path, max_pages=MAX_PDF_PAGES)
        lines: list[Line] = []
        for page in pages:
            text = _mark_underlines(page.text, page.underlined)
            lines.extend(Line(t, page.number) for t in clean_lines(text) if plain(t).strip())
        if not lines:
            raise BadPdf(name, "no text left after removing running headers and page numbers",
                         "run OCR first, or ingest a text export")
        landscape = 2 * sum(1 for p in pages if p.landscape) > len(pages)  # most pages wider than tall
        return lines, landscape, sha, True
    return guess_pages(textio.decode_text(data, name)), False, sha, False


def _mark_underlines(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with each underlined span wrapped in MARK_START … MARK_END. Mark characters that the PDF's own
    text holds (U+E000/U+E001 are the first private-use code points, which PDFs use for 外字) become U+FFFD first,
    one for one, so that the spans' offsets still hold and no span is forged."""
    text = text.replace(MARK_START, "\ufffd").replace(MARK_END, "\ufffd")
    out, pos = [], 0
    for start, end in sorted(spans):
        start = max(start, pos)
        if end <= start:
            continue
        out += [text[pos:start], MARK_START, text[start:end], MARK_END]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _law_format(path: Path) -> str | None:
    """"law_html" / "law_md" when the file is a statute (decided by its first bytes and suffix), else None."""
    if path.suffix.lower() == ".pdf":
        return None
    try:
        with textio.open_source(path) as (fh, _st):
            head = fh.read(4096)
    except IngestError:
        return None  # refused again, with its reason, by the reader that follows
    return law_format(head, path.suffix)


def _slug(path: Path) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
    return s[:64] or "document"


def _match_known(title: str, known: list[Document]) -> Document | None:
    """An existing document whose title is (nearly) this one's: a new edition keeps its document id."""
    t = re.sub(r"\s", "", fold(title))
    best, best_ratio = None, 0.0
    for doc in known:
        k = re.sub(r"\s", "", fold(doc.title))
        ratio = difflib.SequenceMatcher(None, t, k).ratio()
        if ratio > best_ratio:
            best, best_ratio = doc, ratio
    return best if best_ratio >= 0.8 else None


def parse_file(path: Path, overrides: Overrides = Overrides(), known: Sequence[Document] = ()) -> ParsedDocument:
    """Parse one file into a document edition. Raises an IngestError subclass naming the file."""
    name = str(path)
    fmt = _law_format(path)
    if fmt is not None:  # a statute (e-Gov HTML page or law Markdown): its own parser, its ids from the file
        return parse_law_path(path, fmt)
    lines, landscape, sha, is_pdf = _read_lines(path)
    title = overrides.title or detect_title(lines)
    known_by_id = {d.id: d for d in known}
    base = known_by_id.get(overrides.doc_id or "") or (None if overrides.doc_id else _match_known(title, list(known)))
    kind = overrides.kind or (base.kind if base else None) or detect_kind(lines, landscape)
    if kind is None:
        raise UnrecognisedStructure(name, "the document's structure was not recognised (not a Q&A, 実施要綱, "
                                    "事務連絡 or slide deck)", "name its kind with --kind qa|youkou|notice|slides")
    if kind not in PARSERS:
        raise IngestError(name, f"unknown kind {kind!r}", "use one of: " + ", ".join(PARSERS))
    doc_id = overrides.doc_id or (base.id if base else _slug(path))
    if not _DOC_ID.match(doc_id):
        raise IngestError(name, f"bad document id {doc_id!r}", "use lower-case letters, digits and '-'")
    detected = detect_edition(lines)
    edition = overrides.edition or (detected[0] if detected else 1)
    edition_label = overrides.edition_label or (f"第{edition}版" if overrides.edition or detected else None)
    if base and base.edition_label and not edition_label:
        edition_label = f"第{edition}版"
    issued, effective = detect_dates(lines)
    raws = PARSERS[kind](lines, name)
    if kind == "qa":
        _warn_out_of_sequence(raws, path.name)
    if not raws or not any(r.lines or r.answer_lines for r in raws):
        raise UnrecognisedStructure(name, "no text found to split into clauses")
    document = Document(
        id=doc_id, title=title, kind=kind,  # type: ignore[arg-type]
        label=overrides.label or (base.label if base else DEFAULT_LABELS[kind]),
        edition=edition, edition_label=edition_label,
        issued=overrides.date or issued, effective=overrides.effective or effective,
        source_name=path.name, source_sha256=sha, source_type="pdf" if is_pdf else "text",
    )
    parsed = assemble(document, raws)
    log.info("parsed %s: %s edition %d, %d clauses", path.name, doc_id, edition, len(parsed.clauses))
    return parsed


def _warn_out_of_sequence(raws: list[RawClause], name: str) -> None:
    """Log the lines that look like a Q&A item number but were not taken for one. ``parse_qa`` accepts item numbers
    only in sequence, so a repeated number (a second "2-3") or one that goes backwards ("1-2" after "1-3") stays in
    the text of the item before it; the parse goes on, and this says where to look."""
    for raw in raws:
        if raw.kind not in ("item", "group"):
            continue
        for ln in (raw.lines[1:] if raw.kind == "item" else raw.lines) + raw.answer_lines:
            m = _QA_NUMBER.match(nfkc(plain(ln.text)))
            if m:
                log.warning("%s: %r looks like Q&A item %s-%s but is out of sequence (repeated or going backwards); "
                            "kept in the text of %s", name, plain(ln.text)[:40], m.group(1), m.group(2), raw.section)


def ingest_paths(paths: Sequence[Path], store: Store, overrides: Overrides = Overrides(),
                 progress: Callable[[Path], None] | None = None) -> list[ParsedDocument]:
    """Parse every file first, then store them in one atomic step: one bad file changes nothing."""
    stored = store.manifest_documents() if store.exists() else []  # the manifest only: cheap with 4k laws stored
    known = stored + [_bundled_document(e) for e in bundled_entries()]
    parsed: list[ParsedDocument] = []
    for path in paths:
        p = parse_file(Path(path), overrides, known)
        if p.document.kind == "law":  # a law's editions are its revisions: same file again = same edition
            p = with_law_edition(p, [d for d in stored if d.id == p.document.id])
        parsed.append(p)
        if progress:
            progress(Path(path))
    _check_duplicates(parsed)
    # The PDFs are kept beside the corpus, so that a clause's page can link to the page of the original.
    originals = {p.document.source_sha256: Path(path) for p, path in zip(parsed, paths) if p.document.from_pdf}
    store.put(parsed, originals=originals)
    return parsed


def ingest_bundled(store: Store, progress: Callable[[Path], None] | None = None) -> list[ParsedDocument]:
    parsed = []
    for entry in bundled_entries():
        parsed.append(parse_file(entry.path, entry.overrides))
        if progress:
            progress(entry.path)
    store.put(parsed)
    return parsed


def _bundled_document(entry: BundledEntry) -> Document:
    o = entry.overrides
    return Document(id=o.doc_id or "", title=o.title or "", kind=o.kind or "notice",  # type: ignore[arg-type]
                    label=o.label or "", edition_label=o.edition_label)


def _check_duplicates(parsed: list[ParsedDocument]) -> None:
    seen: dict[str, str] = {}
    for p in parsed:
        key = p.document.key
        if key in seen:
            raise IngestError(p.document.source_name, f"same document and edition ({key}) as {seen[key]}",
                              "ingest one of them, or give --edition")
        seen[key] = p.document.source_name
