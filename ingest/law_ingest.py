"""Statutes into the store: one law file, or a whole directory or .tar.xz archive of them.

An archive is streamed member by member (never unpacked to disk); each law is parsed on its own, a bad file is
reported and skipped without stopping the run, and what was skipped is recorded under
``<data-dir>/reports/``. A law whose file is unchanged (same content hash as a stored edition) is not parsed again:
re-ingesting an archive is a no-op. A new revision of a stored law becomes its next edition, dated by its
enforcement date, so ``--as-of`` picks the revision in force.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from corpus.errors import IngestError, UnreadableText
from corpus.model import Document, ParsedDocument
from corpus.fsutil import atomic_write_bytes
from corpus.store import Store, dump_json
from ingest import textio
from ingest.detect import law_format
from ingest.law_html import parse_law_html
from ingest.law_md import parse_law_md

log = logging.getLogger(__name__)

MAX_LAW_BYTES = 64 * 1024 * 1024  # the largest e-Gov pages are a few MiB; 17 over 4 MiB are absent from the archive
BATCH = 200  # laws stored per atomic step during an archive ingest
ARCHIVE_SUFFIXES = (".tar", ".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2")


def is_archive(path: Path) -> bool:
    return path.is_dir() or any(path.name.lower().endswith(s) for s in ARCHIVE_SUFFIXES)


def parse_law_bytes(data: bytes, path: Path, fmt: str | None = None) -> ParsedDocument:
    """One law file's bytes -> a document edition (edition 1; see ``with_law_edition``)."""
    fmt = fmt or law_format(data[:4096], path.suffix)
    if fmt is None:
        raise IngestError(str(path), "not a law file (an e-Gov law page or law Markdown)")
    sha = hashlib.sha256(data).hexdigest()
    builder = parse_law_html(data, path) if fmt == "law_html" else parse_law_md(data, path)
    return builder.result(sha, path.name)


def parse_law_path(path: Path, fmt: str | None = None) -> ParsedDocument:
    name = str(path)
    with textio.open_source(path) as (fh, st):
        if st.st_size > MAX_LAW_BYTES:
            raise textio.too_big(name, st.st_size, MAX_LAW_BYTES, UnreadableText)
        data = textio.read_bounded(fh, MAX_LAW_BYTES)
    if len(data) > MAX_LAW_BYTES:
        raise textio.too_big(name, len(data), MAX_LAW_BYTES, UnreadableText)
    return parse_law_bytes(data, path, fmt)


def with_law_edition(parsed: ParsedDocument, stored: list[Document]) -> ParsedDocument:
    """The edition number for a parsed law given the stored editions of the same law: the same number for the same
    file or revision (re-ingest: no change), the next number for a later revision."""
    doc = parsed.document
    same = next((d for d in stored if d.source_sha256 == doc.source_sha256
                 or (doc.revision_id and d.revision_id == doc.revision_id)), None)
    if same is not None:
        edition = same.edition
    elif not stored:
        edition = 1
    else:
        latest = max(stored, key=lambda d: d.edition)
        if doc.date and latest.date and doc.date < latest.date:
            raise IngestError(doc.source_name, f"revision {doc.revision_id} ({doc.date}) is older than the stored "
                              f"edition {latest.edition} ({latest.date}) of {doc.id}",
                              "ingest the revisions of a law from oldest to newest")
        edition = latest.edition + 1
    if edition == doc.edition:
        return parsed
    return ParsedDocument(replace(doc, edition=edition), tuple(replace(c, edition=edition) for c in parsed.clauses),
                          parsed.text)


# --- archives ---------------------------------------------------------------------------------------------------

@dataclass
class ArchiveReport:
    source: str
    files: int = 0
    stored: int = 0
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    clauses: int = 0
    articles: int = 0
    seconds: float = 0.0
    report_path: str | None = None

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "files_per_s": round(self.files_per_s, 1)}


def iter_law_files(path: Path) -> Iterator[tuple[Path, Callable[[], bytes]]]:
    """(name, read) for each law file in a directory (recursively) or a tar archive (streamed, in archive order)."""
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and p.suffix.lower() in (".html", ".htm", ".md"):
                yield p, (lambda p=p: _read_file(p))
        return
    try:
        tar = tarfile.open(path, mode="r|*")
    except (tarfile.TarError, OSError) as e:
        raise IngestError(str(path), f"not a readable tar archive ({e})", "give a directory or a .tar.xz file") from e
    with tar:
        for member in tar:
            if not member.isfile() or not member.name.lower().endswith((".html", ".htm", ".md")):
                continue
            if member.size > MAX_LAW_BYTES:
                name = Path(member.name)
                yield name, (lambda n=name, s=member.size: (_ for _ in ()).throw(
                    textio.too_big(str(n), s, MAX_LAW_BYTES, UnreadableText)))
                continue
            f = tar.extractfile(member)
            data = f.read() if f is not None else b""
            yield Path(member.name), (lambda d=data: d)


def _read_file(p: Path) -> bytes:
    with textio.open_source(p) as (fh, st):
        if st.st_size > MAX_LAW_BYTES:
            raise textio.too_big(str(p), st.st_size, MAX_LAW_BYTES, UnreadableText)
        return textio.read_bounded(fh, MAX_LAW_BYTES)


def ingest_law_archive(path: Path, store: Store, progress: Callable[[str], None] | None = None,
                       batch: int = BATCH) -> ArchiveReport:
    """Ingest every law file under ``path`` (a directory or tar archive); bad files are skipped and recorded."""
    started = time.perf_counter()
    report = ArchiveReport(source=str(path))
    stored_docs: dict[str, list[Document]] = {}
    if store.exists():
        for entry in store.manifest_documents():
            stored_docs.setdefault(entry.id, []).append(entry)
    known_sha = {d.source_sha256 for docs in stored_docs.values() for d in docs}
    pending: list[ParsedDocument] = []
    for name, read in iter_law_files(path):
        report.files += 1
        try:
            data = read()
            if hashlib.sha256(data).hexdigest() in known_sha:
                report.unchanged += 1
            else:
                parsed = parse_law_bytes(data, name)
                parsed = with_law_edition(parsed, stored_docs.get(parsed.document.id, []))
                stored_docs.setdefault(parsed.document.id, []).append(parsed.document)
                known_sha.add(parsed.document.source_sha256)
                pending.append(parsed)
                report.clauses += len(parsed.clauses)
                report.articles += sum(1 for c in parsed.clauses if c.kind == "article")
        except IngestError as e:
            report.skipped.append({"file": str(name), "reason": e.reason, "error": type(e).__name__})
            log.warning("skipped %s", e)
        except Exception as e:  # a parser bug on one odd file must not stop a 4,000-file run; it is recorded
            report.skipped.append({"file": str(name), "reason": f"{type(e).__name__}: {e}", "error": "internal"})
            log.exception("skipped %s: unexpected error", name)
        if len(pending) >= batch:
            report.stored += len(store.put(pending))
            pending = []
        if progress:
            progress(str(name))
    if pending:
        report.stored += len(store.put(pending))
    report.seconds = time.perf_counter() - started
    report.report_path = str(_write_report(store, report))
    return report


def _write_report(store: Store, report: ArchiveReport) -> Path:
    reports = store.root.parent / "reports"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    path = reports / f"ingest-laws-{stamp}.json"
    report.report_path = str(path)
    data = dump_json(report.to_json())
    atomic_write_bytes(path, data)
    atomic_write_bytes(reports / "ingest-laws-last.json", data)
    return path


def last_report(data_dir: Path) -> dict[str, object] | None:
    try:
        return json.loads((Path(data_dir) / "reports" / "ingest-laws-last.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
