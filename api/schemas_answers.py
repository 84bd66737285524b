"""Request and response models of the saved-answers API (``api.routes.answers``), apart from the internal dataclasses.

Hard caps here only keep absurd bodies out; the configured limits (Settings ``max_answer_*``) are checked by
``corpus.answers.check_draft`` with a message that says which limit.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import MAX_EDITION

HARD_TEXT_CAP = 1_000_000


class CitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc: str = Field(min_length=1, max_length=64, description="document id, e.g. hojokin-qa")
    section: str = Field(min_length=1, max_length=64, description="section id, e.g. 2-9 or 4(2)エ (any width)")
    edition: int | None = Field(None, ge=1, le=MAX_EDITION, description="edition; default the latest")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(max_length=HARD_TEXT_CAP, description="the inquiry, as asked")
    answer: str = Field(max_length=HARD_TEXT_CAP, description="the answer text as sent to the citizen")
    citations: list[CitationIn] = Field(max_length=1000, description="the clauses the answer relies on")
    note: str = Field("", max_length=HARD_TEXT_CAP, description="internal note")


class AnswerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str | None = Field(None, max_length=HARD_TEXT_CAP)
    answer: str | None = Field(None, max_length=HARD_TEXT_CAP)
    citations: list[CitationIn] | None = Field(None, max_length=1000)
    note: str | None = Field(None, max_length=HARD_TEXT_CAP)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str | None = Field(None, max_length=HARD_TEXT_CAP, description="a new answer text, if it changes")
    citations: list[CitationIn] | None = Field(None, max_length=1000,
                                               description="new citations; default: each moved to its current clause")


class SavedCitationOut(BaseModel):
    doc: str
    section: str = Field(description="the section as saved (or last reviewed)")
    edition: int = Field(description="the edition as saved (or last reviewed)")
    citation: str = Field(description="「Q&A（第1版）2-9」 as saved")
    text_hash: str = Field(description="sha256 of the clause text as saved")
    current_section: str | None = Field(description="the clause's number in the latest edition; null if removed")
    current_edition: int
    current_citation: str | None = Field(description="「Q&A（第2版）2-11」")
    change: str = Field(description="unchanged | renumbered | modified | renumbered+modified | removed | text-changed")
    status: str = Field(description="current | renumbered | needs-review | removed")
    diff_row: dict[str, Any] | None = Field(description="the 新旧対照表 row (as in GET /documents/{doc}/diff)")
    url: str | None = Field(description="the current clause's page")


class SavedAnswerOut(BaseModel):
    id: int
    question: str
    answer: str
    status: str = Field(description="current | renumbered | needs-review | removed: the worst of its citations")
    note: str
    created_at: str
    updated_at: str
    reviewed_at: str | None
    citations: list[SavedCitationOut]
    url: str


class AnswersOut(BaseModel):
    answers: list[SavedAnswerOut]
    counts: dict[str, int] = Field(description="all saved answers per status")


class ImportOut(BaseModel):
    imported: int
    ids: list[int]
