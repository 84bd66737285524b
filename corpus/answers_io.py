"""Export and import of saved answers: CSV (UTF-8 with a BOM, so Excel opens it as UTF-8) and JSON.

CSV has one row per answer; its citations are one cell, ``doc@edition#section`` joined by ``; `` (Excel keeps a cell
whole), with the text hashes in the same order in ``text_hashes``. An import reads ``question``, ``answer``,
``citations`` (required) and ``note``, ``created_at``, ``text_hashes`` (optional); the other exported columns
(status, current citations, dates) are what this corpus says and are recomputed. Any other header is refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Sequence
from typing import Any

from corpus.answers import AnswerDraft, CitationRef, SavedAnswer
from corpus.errors import AnswerImportError

CSV_COLUMNS: tuple[str, ...] = ("id", "question", "answer", "status", "citations", "text_hashes",
                                "current_citations", "note", "created_at", "updated_at", "reviewed_at")
CSV_REQUIRED: tuple[str, ...] = ("question", "answer", "citations")
JSON_FORMAT = "regkb-answers"
BOM = "\ufeff"
_REF = re.compile(r"^\s*([^@#\s]+)(?:@(\d{1,4}))?#(.+?)\s*$")
MAX_ROWS = 10000


def format_ref(doc: str, edition: int | None, section: str) -> str:
    return f"{doc}@{edition}#{section}" if edition is not None else f"{doc}#{section}"


def parse_ref(text: str) -> CitationRef:
    """``hojokin-qa@1#2-9`` (or ``hojokin-qa#2-9`` for the latest edition) as a CitationRef."""
    m = _REF.match(text)
    if not m:
        raise AnswerImportError(f"citation {text.strip()[:60]!r} is not doc@edition#section",
                                "write citations like hojokin-qa@2#2-11; several separated by ;")
    return CitationRef(m.group(1), m.group(3), int(m.group(2)) if m.group(2) else None)


# -- export ------------------------------------------------------------------------------------------------------------


def to_csv(answers: Sequence[SavedAnswer]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for a in answers:
        w.writerow([a.id, a.question, a.answer, a.status,
                    "; ".join(format_ref(c.doc, c.edition, c.section) for c in a.citations),
                    "; ".join(c.text_hash for c in a.citations),
                    "; ".join(c.current_citation or "（削除）" for c in a.citations),
                    a.note, a.created_at, a.updated_at, a.reviewed_at or ""])
    return (BOM + out.getvalue()).encode("utf-8")


def to_json(answers: Sequence[SavedAnswer]) -> bytes:
    doc = {"format": JSON_FORMAT, "version": 1,
           "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "answers": [a.to_json() for a in answers]}
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


# -- import ------------------------------------------------------------------------------------------------------------

Parsed = tuple[list[AnswerDraft], list[list[str | None]]]  # drafts, and per draft the text hashes given (or None)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # Excel on Japanese Windows saves "CSV (カンマ区切り)" in CP932
        return data.decode("cp932")
    except UnicodeDecodeError:
        raise AnswerImportError("the file is neither UTF-8 nor CP932 text",
                                "save it as CSV UTF-8 (or export it again with regkb)") from None


def sniff_format(data: bytes, name: str = "") -> str:
    if name.lower().endswith(".json"):
        return "json"
    if name.lower().endswith(".csv"):
        return "csv"
    head = data.lstrip(BOM.encode()).lstrip()[:1]
    return "json" if head in (b"{", b"[") else "csv"


def from_csv(data: bytes) -> Parsed:
    text = _decode(data)
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(rows)]
    except StopIteration:
        raise AnswerImportError("the CSV file is empty", f"the first row names the columns: {', '.join(CSV_COLUMNS)}") from None
    except csv.Error as e:
        raise AnswerImportError(f"the CSV file cannot be read: {e}") from None
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [h for h in CSV_REQUIRED if h not in header]
    if unknown or missing or len(set(header)) != len(header):
        what = (f"unknown column {unknown[0]!r}" if unknown else f"missing column {missing[0]!r}" if missing
                else "a column is repeated")
        raise AnswerImportError(f"wrong CSV header: {what}",
                                f"required: {', '.join(CSV_REQUIRED)}; allowed: {', '.join(CSV_COLUMNS)}")
    drafts, hashes = [], []
    try:
        for n, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise AnswerImportError(f"CSV row {n} has {len(row)} cells, the header {len(header)}",
                                        "quote cells that contain commas or line breaks")
            if len(drafts) >= MAX_ROWS:
                raise AnswerImportError(f"more than {MAX_ROWS} answers in one import", "split the file")
            cell = dict(zip(header, row, strict=True))
            refs = [parse_ref(p) for p in cell["citations"].split(";") if p.strip()]
            given = [h.strip() or None for h in cell.get("text_hashes", "").split(";")] if cell.get("text_hashes") else []
            drafts.append(AnswerDraft(question=cell["question"], answer=cell["answer"], citations=tuple(refs),
                                      note=cell.get("note", ""), created_at=_date_or_none(cell.get("created_at"))))
            hashes.append(given)
    except csv.Error as e:
        raise AnswerImportError(f"the CSV file cannot be read: {e}") from None
    return drafts, hashes


def _date_or_none(value: Any) -> str | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.strip()).isoformat(timespec="seconds")
    except ValueError:
        return None


def from_json(data: bytes) -> Parsed:
    try:
        doc = json.loads(_decode(data))
    except ValueError as e:
        raise AnswerImportError(f"malformed JSON: {e}", "export again with regkb, or check the file") from None
    items = doc.get("answers") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise AnswerImportError('the JSON has no "answers" list', 'give {"answers": [{"question", "answer", '
                                '"citations": [{"doc", "section", "edition"}]}]}')
    if len(items) > MAX_ROWS:
        raise AnswerImportError(f"more than {MAX_ROWS} answers in one import", "split the file")
    drafts, hashes = [], []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("citations"), list):
            raise AnswerImportError(f"answer {n} is not an object with a citations list")
        refs, given = [], []
        for c in item["citations"]:
            if not isinstance(c, dict) or not isinstance(c.get("doc"), str) or not isinstance(c.get("section"), str):
                raise AnswerImportError(f"answer {n}: a citation needs doc and section (text)")
            edition = c.get("edition")
            if edition is not None and (not isinstance(edition, int) or isinstance(edition, bool) or edition < 1):
                raise AnswerImportError(f"answer {n}: edition must be a positive whole number")
            refs.append(CitationRef(c["doc"], c["section"], edition))
            h = c.get("text_hash")
            given.append(h if isinstance(h, str) and h else None)
        for key in ("question", "answer", "note"):
            if item.get(key) is not None and not isinstance(item.get(key), str):
                raise AnswerImportError(f"answer {n}: {key} must be text")
        drafts.append(AnswerDraft(question=item.get("question") or "", answer=item.get("answer") or "",
                                  citations=tuple(refs), note=item.get("note") or "",
                                  created_at=_date_or_none(item.get("created_at"))))
        hashes.append(given)
    return drafts, hashes


def parse(data: bytes, fmt: str) -> Parsed:
    if fmt == "csv":
        return from_csv(data)
    if fmt == "json":
        return from_json(data)
    raise AnswerImportError(f"unknown format {fmt!r}", "csv or json")
