"""Ingest throughput: generated Japanese PDFs of the bundled documents, timed through extraction and the whole ingest."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

from eval.bench_common import REPO


def pdf_ingest(work: Path, copies: int = 2) -> dict[str, Any]:
    """Render the bundled documents as Japanese PDFs (tests/pdfgen.py), then time ``parse_file`` on them (the whole
    ingest of one file: pdfplumber extraction, header/footer removal, parsing) and ``extract_pdf`` alone."""
    sys.path.insert(0, str(REPO))
    from tests.pdfgen import render_text_pdf

    from ingest.pdf import extract_pdf
    from ingest.pipeline import bundled_entries, parse_file

    pdf_dir = work / "pdfs"
    shutil.rmtree(pdf_dir, ignore_errors=True)
    pdf_dir.mkdir(parents=True)
    files = []
    for c in range(copies):
        for e in bundled_entries():
            path = pdf_dir / f"{c}-{e.path.stem}.pdf"
            render_text_pdf(path, e.path.read_text("utf-8"))
            files.append((path, e.overrides))
    t0 = time.perf_counter()
    pages = [len(extract_pdf(p)) for p, _ in files[:1]]  # the first file pays pdfplumber's import
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pages = [len(extract_pdf(p)) for p, _ in files]
    extract_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    clauses = 0
    failures = []
    for p, o in files:
        try:
            clauses += len(parse_file(p, o).clauses)
        except Exception as e:  # noqa: BLE001 - a parse failure is a result to report, not a crash
            failures.append(f"{p.name}: {type(e).__name__}")
    parse_s = time.perf_counter() - t0
    n = sum(pages)
    return {"files": len(files), "pages": n, "bytes": sum(p.stat().st_size for p, _ in files),
            "first_file_s_with_import": round(first_s, 3),
            "extract_pdf_s": round(extract_s, 3), "extract_pages_per_s": round(n / extract_s, 1),
            "ingest_s": round(parse_s, 3), "ingest_pages_per_s": round(n / parse_s, 1),
            "clauses": clauses, "failures": failures,
            "note": "generated with tests/pdfgen.render_text_pdf (40 lines of 40 chars per page, header, page "
                    "numbers); ingest = ingest.pipeline.parse_file, warm (pdfplumber already imported)"}

