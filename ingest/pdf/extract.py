"""The extraction driver: open and check the file, read every page, drop running lines, explain failures."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from corpus.errors import BadPdf
from ingest.pdf.headers import remove_running_lines
from ingest.pdf.lines import Line
from ingest.pdf.page import PdfPage, assemble, page_lines

logger = logging.getLogger(__name__)

_NOISY = ("pdfminer", "pdfplumber")
_quiet_lock = threading.Lock()
_quiet_users = 0  # extractions running now (threads of the server): the last one out restores the levels
_quiet_saved: dict[str, int] = {}


@contextmanager
def _quiet_pdf_libraries() -> Iterator[None]:
    """Keep pdfminer's per-object warnings (missing CropBox, font bbox …) out of the log while a PDF is read, then
    restore the levels: importing this package changes no logger, and a level set by the application is kept."""
    global _quiet_users
    with _quiet_lock:
        if _quiet_users == 0:
            for name in _NOISY:
                lib = logging.getLogger(name)
                _quiet_saved[name] = lib.level
                if lib.level == logging.NOTSET:
                    lib.setLevel(logging.ERROR)
        _quiet_users += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0:
                for name, level in _quiet_saved.items():
                    logging.getLogger(name).setLevel(level)
                _quiet_saved.clear()


def extract_pdf(path: Path, *, max_pages: int = 2000) -> list[PdfPage]:
    """Extract the text of every page of the PDF at ``path``; raise ``BadPdf`` when that cannot be done."""
    import pdfplumber  # imported here so that importing this module stays cheap

    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1024)
            fh.seek(max(0, size - 2048))
            tail = fh.read()
    except OSError as exc:
        raise BadPdf(name, f"cannot read file ({exc.strerror or exc})") from exc
    if size == 0:
        raise BadPdf(name, "empty file (0 bytes)", "check the download")
    if b"%PDF-" not in head:
        raise BadPdf(name, "not a PDF (no %PDF- header)", "check the file type; text files go through the text ingester")
    truncated = b"%%EOF" not in tail

    pages_raw: list[list[Line]] = []
    landscape: list[bool] = []
    try:
        with _quiet_pdf_libraries(), pdfplumber.open(path) as pdf:
            count = _page_count(pdf)
            if count is not None and count > max_pages:
                raise BadPdf(name, f"too many pages ({count} > max_pages={max_pages})", "split the PDF or raise max_pages")
            for page in pdf.pages:
                if len(pages_raw) >= max_pages:
                    raise BadPdf(name, f"too many pages (more than max_pages={max_pages})", "split the PDF or raise max_pages")
                try:
                    landscape.append(float(page.width) > float(page.height))  # pdfplumber applies /Rotate
                    pages_raw.append(page_lines(page))
                finally:
                    page.close()
    except BadPdf:
        raise
    except Exception as exc:  # anything pdfminer/pdfplumber raises on a broken, encrypted or hostile file
        raise _classify(name, exc, truncated) from exc

    if truncated:
        logger.warning("%s: no %%%%EOF marker at the end; the file may be truncated", name)
    if not any(line.text.strip() for lines in pages_raw for line in lines):
        raise BadPdf(name, "no text layer (scanned image?)", "run OCR first, or ingest a text export")

    pages_lines = remove_running_lines(pages_raw)
    result = [assemble(number, lines, wide) for number, (lines, wide) in enumerate(zip(pages_lines, landscape), start=1)]
    if not any(p.text.strip() for p in result):
        raise BadPdf(name, "no text layer (only running headers/page numbers; scanned image?)", "run OCR first, or ingest a text export")
    logger.debug("%s: %d pages, %d chars", name, len(result), sum(len(p.text) for p in result))
    return result


def _page_count(pdf: Any) -> int | None:
    """The /Count of the page tree, read without building every page (so a PDF bomb is refused cheaply)."""
    from pdfminer.pdftypes import resolve1

    try:
        count = resolve1(resolve1(pdf.doc.catalog.get("Pages")).get("Count"))
        return int(count)
    except Exception:  # no usable /Count: pages are counted while iterating instead
        return None


def _classify(name: str, exc: BaseException, truncated: bool) -> BadPdf:
    """A ``BadPdf`` that says what is wrong (encrypted, truncated, corrupt) from the chain of pdfminer errors."""
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(chain) < 5:
        chain.append(e)
        e = e.args[0] if e.args and isinstance(e.args[0], BaseException) else (e.__cause__ or e.__context__)
    kinds = {type(x).__name__ for x in chain}
    if kinds & {"PDFPasswordIncorrect", "PDFEncryptionError", "PDFEncryptionWarning", "PDFTextExtractionNotAllowed"}:
        return BadPdf(name, "encrypted (password-protected)", "ask for an unprotected copy, or remove the password first")
    detail = type(chain[-1]).__name__
    message = str(chain[-1]).strip()
    if message:
        detail += f": {message[:120]}"
    if truncated or kinds & {"PSEOF"}:
        return BadPdf(name, f"truncated or corrupt PDF ({detail})", "download the file again")
    return BadPdf(name, f"corrupt PDF ({detail})", "download the file again, or re-save it from a PDF viewer")
