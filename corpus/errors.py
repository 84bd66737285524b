"""One small exception class per failure; the CLI and the API turn them into messages and status codes in one place."""

from __future__ import annotations


class RegkbError(Exception):
    """Base of every error this project raises on purpose. ``hint`` says what to do next."""

    status = 400

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class IngestError(RegkbError):
    """A file could not be ingested; nothing in the store was changed."""

    status = 422

    def __init__(self, path: str, reason: str, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint)
        self.path = path
        self.reason = reason


class EmptyInput(IngestError):
    pass


class UnreadableText(IngestError):
    pass


class BadPdf(IngestError):
    pass


class UnrecognisedStructure(IngestError):
    pass


class DocumentNotFound(RegkbError):
    status = 404


class EditionNotFound(RegkbError):
    status = 404


class ClauseNotFound(RegkbError):
    status = 404


class SourceNotStored(RegkbError):
    """The edition was not ingested from a PDF, or its PDF is not kept."""

    status = 404


class StoreCorrupt(RegkbError):
    status = 500


class IndexNotBuilt(RegkbError):
    status = 503


class IndexMismatch(RegkbError):
    status = 503


class EmbeddingModelError(RegkbError):
    """The embedding model could not be resolved, converted or loaded."""

    status = 503


class VocabularyFileError(RegkbError):
    """The user's vocabulary file (REGKB_VOCABULARY_FILE) is missing or not UTF-8 text."""


class BadQuery(RegkbError):
    status = 422


# -- saved helpdesk answers (corpus/answers*.py) ---------------------------------------------------------------------


class AnswerNotFound(RegkbError):
    status = 404


class InvalidAnswer(RegkbError):
    """An answer or its citations cannot be saved as given (empty, too long, unknown clause …); nothing was stored."""

    status = 422


class AnswerImportError(RegkbError):
    """An import file is not in the expected format (wrong CSV header, malformed JSON, bad encoding)."""

    status = 422


class AnswerStoreError(RegkbError):
    """The saved-answers database cannot be used (newer schema, corrupt file)."""

    status = 500
