"""PDF text extraction with pdfplumber: page text in reading order, running lines removed, underlines found.

The text of each page is built from pdfplumber's chars (not ``extract_text``) so that every character of the
returned text maps back to the chars it came from; that is what makes the underline ranges exact. One job a
module: ``extract`` (the driver and its errors), ``page`` (one page's lines and the result), ``lines`` (chars to
lines), ``rotation`` (turned pages, vertical writing), ``columns`` (two-column slides), ``underlines`` and
``headers`` (running headers, footers and page numbers).
"""

from ingest.pdf.extract import extract_pdf
from ingest.pdf.page import PdfPage

__all__ = ["PdfPage", "extract_pdf"]
