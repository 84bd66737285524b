"""regkb's data model: documents, editions, clauses, citations, and the store that keeps them."""

from corpus.model import Citation, Clause, Document, ParsedDocument, Span, clause_key, edition_key
from corpus.sections import normalize_section

__all__ = [
    "Citation",
    "Clause",
    "Document",
    "ParsedDocument",
    "Span",
    "clause_key",
    "edition_key",
    "normalize_section",
]
