"""Saved helpdesk answers: the JSON API under /answers and the 「要確認の回答」 page (/answers/review).

Reads are open, like search. Writes need `Authorization: Bearer <token>` with the admin token or the helpdesk token
(REGKB_ADMIN_TOKEN / REGKB_HELPDESK_TOKEN); with neither set they are off. Every read first re-checks the answers if
the corpus changed since their last re-check (cheap otherwise), so they never lag an ingest done by other means.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Header, Path as PathParam, Query, Request, UploadFile
from fastapi.responses import Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep
from api.diff_cells import CHANGE_LABELS
from api.render_diff import to_html
from api.routes import clause_url, render, templates
from api.schemas import ErrorOut
from api.schemas_answers import (AnswerIn, AnswerPatch, AnswersOut, CitationIn, ImportOut, ReviewIn,
                                 SavedAnswerOut, SavedCitationOut)
from api.settings import Settings
from corpus import answers_io
from corpus import answers_service as service
from corpus.answers import REVIEW_STATUSES, AnswerDraft, AnswerStore, CitationRef, Limits, SavedAnswer
from corpus.answers_recheck import current_corpus, diff_item_from_json, ensure_checked
from corpus.diff import EditionDiff
from corpus.errors import AnswerImportError, RegkbError

router = APIRouter(prefix="/answers", tags=["answers"])

STATUS_LABELS = {"current": "最新", "renumbered": "番号変更", "needs-review": "要確認", "removed": "条項削除"}
CHANGE_LABELS_JA = {**CHANGE_LABELS, "text-changed": "本文変更（同じ版）"}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or wrong token"},
    403: {"model": ErrorOut, "description": "writes are off (no token configured)"},
    404: {"model": ErrorOut, "description": "no such answer"},
    422: {"model": ErrorOut, "description": "bad input: empty or oversized text, unknown clause, bad file; "
                                            "nothing stored"},
}


class WritesDisabled(RegkbError):
    status = 403


class Unauthorized(RegkbError):
    status = 401


def check_token(settings: Settings, authorization: str | None) -> None:
    tokens = [t for t in (settings.admin_token, settings.helpdesk_token) if t]
    if not tokens:
        raise WritesDisabled("saving answers is disabled",
                             "set REGKB_HELPDESK_TOKEN (or REGKB_ADMIN_TOKEN) on the server to enable it")
    given = (authorization or "").encode()
    # Compare with every token (no early exit), so the timing says nothing about which one is close.
    ok = [hmac.compare_digest(given, f"Bearer {t}".encode()) for t in tokens]
    if not any(ok):
        raise Unauthorized("missing or wrong helpdesk token",
                           "send `Authorization: Bearer <REGKB_HELPDESK_TOKEN or REGKB_ADMIN_TOKEN>`")


def limits(settings: Settings) -> Limits:
    return Limits(max_question_chars=settings.max_answer_question_chars, max_answer_chars=settings.max_answer_chars,
                  max_citations=settings.max_answer_citations)


def refs(citations: list[CitationIn]) -> tuple[CitationRef, ...]:
    return tuple(CitationRef(c.doc, c.section, c.edition) for c in citations)


def answer_out(a: SavedAnswer) -> SavedAnswerOut:
    cites = [SavedCitationOut(**c.to_json(),
                              url=clause_url(c.doc, c.current_section, c.current_edition) if c.current_section else None)
             for c in a.citations]
    return SavedAnswerOut(id=a.id, question=a.question, answer=a.answer, status=a.status, note=a.note,
                          created_at=a.created_at, updated_at=a.updated_at, reviewed_at=a.reviewed_at,
                          citations=cites, url=f"/answers/{a.id}")


def needing_review_count(request: Request) -> int:
    """For templates (the start page link): answers listed on 「要確認の回答」; 0 when anything is amiss."""
    data_dir = request.app.state.settings.data_dir
    try:
        ensure_checked(data_dir)
        return AnswerStore(data_dir).needing_review()
    except RegkbError:
        return 0


templates.env.globals["answers_needing_review"] = needing_review_count


def _statuses(status: list[str] | None) -> list[str] | None:
    if not status:
        return None
    out = [s.strip() for value in status for s in value.split(",") if s.strip()]
    return out or None


AnswerId = Annotated[int, PathParam(ge=1, le=2**62, description="the saved answer's id")]
Auth = Annotated[str | None, Header(description="Bearer <helpdesk or admin token>")]


# -- reads ---------------------------------------------------------------------------------------------------------------


@router.get("", response_model=AnswersOut, summary="List or search saved answers", responses=ERRORS)
def list_answers(
    settings: SettingsDep,
    status: Annotated[list[str] | None, Query(description="current | renumbered | needs-review | removed "
                                                          "(repeat or comma-separate)")] = None,
    q: Annotated[str | None, Query(max_length=500, description="text in the question, answer or note")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> AnswersOut:
    ensure_checked(settings.data_dir)
    store = AnswerStore(settings.data_dir)
    found = store.list(status=_statuses(status), q=q, limit=limit, offset=offset)
    return AnswersOut(answers=[answer_out(a) for a in found], counts=store.counts())


def document_labels(data_dir: Path) -> dict[Any, str | None]:
    """doc id → its short label (Q&A), (doc id, edition) → 第2版: the 新旧対照表 captions."""
    corpus, _ = current_corpus(data_dir)
    out: dict[Any, str | None] = {}
    for p in corpus:
        out[p.document.id] = p.document.label
        out[(p.document.id, p.document.edition)] = p.document.edition_label
    return out


@router.get("/review", include_in_schema=False)
def review_page(request: Request, settings: SettingsDep,
                status: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    ensure_checked(settings.data_dir)
    store = AnswerStore(settings.data_dir)
    wanted = [status] if status in REVIEW_STATUSES else list(REVIEW_STATUSES)
    labels = document_labels(settings.data_dir)
    items = []
    for a in store.list(status=wanted):
        cites = []
        for c in a.citations:
            table = None
            if c.diff_row and c.diff_row.get("change") != "unchanged":
                diff = EditionDiff(doc_id=c.doc, old_edition=c.edition, new_edition=c.current_edition,
                                   items=(diff_item_from_json(c.diff_row),), doc_label=labels.get(c.doc),
                                   old_edition_label=labels.get((c.doc, c.edition)),
                                   new_edition_label=labels.get((c.doc, c.current_edition)))
                table = Markup(to_html(diff))  # noqa: S704 (every text escaped inside)
            cites.append({"c": c, "change": CHANGE_LABELS_JA.get(c.change, c.change), "table": table,
                          "status": STATUS_LABELS[c.status]})
        items.append({"a": a, "status": STATUS_LABELS[a.status], "cites": cites})
    return render(request, "answers_review.html", {"items": items, "counts": store.counts(),
                                                    "status_labels": STATUS_LABELS, "status": status or ""})


@router.get("/export", summary="Export saved answers (CSV with BOM for Excel, or JSON)", responses=ERRORS)
def export_answers(
    settings: SettingsDep,
    format: Annotated[Literal["csv", "json"], Query(description="csv (UTF-8 with BOM) or json")] = "csv",
    status: Annotated[list[str] | None, Query()] = None,
) -> Response:
    ensure_checked(settings.data_dir)
    found = AnswerStore(settings.data_dir).list(status=_statuses(status), limit=1_000_000)
    if format == "json":
        return Response(answers_io.to_json(found), media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="answers.json"'})
    return Response(answers_io.to_csv(found), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="answers.csv"'})


@router.get("/{answer_id}", response_model=SavedAnswerOut, summary="One saved answer with its citations' standing",
            responses=ERRORS)
def get_answer(settings: SettingsDep, answer_id: AnswerId) -> SavedAnswerOut:
    ensure_checked(settings.data_dir)
    return answer_out(AnswerStore(settings.data_dir).get(answer_id))


@router.get("/{answer_id}/history", summary="What happened to a saved answer (created, edited, re-checked …)",
            responses=ERRORS)
def answer_history(settings: SettingsDep, answer_id: AnswerId) -> dict[str, Any]:
    store = AnswerStore(settings.data_dir)
    store.get(answer_id)
    return {"id": answer_id, "events": store.events(answer_id)}


# -- writes --------------------------------------------------------------------------------------------------------------



@router.post("", status_code=201, response_model=SavedAnswerOut, summary="Save an answer with its cited clauses",
             responses=ERRORS)
def create_answer(settings: SettingsDep, body: AnswerIn, authorization: Auth = None) -> SavedAnswerOut:
    check_token(settings, authorization)
    draft = AnswerDraft(body.question, body.answer, refs(body.citations), body.note)
    return answer_out(service.save(settings.data_dir, draft, limits(settings)))


@router.put("/{answer_id}", response_model=SavedAnswerOut, summary="Replace a saved answer", responses=ERRORS)
def replace_answer(settings: SettingsDep, answer_id: AnswerId, body: AnswerIn, authorization: Auth = None) -> SavedAnswerOut:
    check_token(settings, authorization)
    return answer_out(service.edit(settings.data_dir, answer_id, question=body.question, answer=body.answer,
                                   note=body.note, citations=refs(body.citations), limits=limits(settings)))


@router.patch("/{answer_id}", response_model=SavedAnswerOut, summary="Change parts of a saved answer",
              responses=ERRORS)
def patch_answer(settings: SettingsDep, answer_id: AnswerId, body: AnswerPatch, authorization: Auth = None) -> SavedAnswerOut:
    check_token(settings, authorization)
    return answer_out(service.edit(settings.data_dir, answer_id, question=body.question, answer=body.answer,
                                   note=body.note, citations=refs(body.citations) if body.citations is not None else None,
                                   limits=limits(settings)))


@router.delete("/{answer_id}", status_code=204, summary="Delete a saved answer (its history is kept)",
               responses=ERRORS)
def delete_answer(settings: SettingsDep, answer_id: AnswerId, authorization: Auth = None) -> Response:
    check_token(settings, authorization)
    AnswerStore(settings.data_dir).delete(answer_id)
    return Response(status_code=204)


@router.post("/{answer_id}/review", response_model=SavedAnswerOut,
             summary="Mark an answer reviewed (optionally with a new text or new citations)", responses=ERRORS)
def review_answer(settings: SettingsDep, answer_id: AnswerId, body: ReviewIn | None = None,
                  authorization: Auth = None) -> SavedAnswerOut:
    check_token(settings, authorization)
    body = body or ReviewIn()
    return answer_out(service.review(settings.data_dir, answer_id, answer=body.answer,
                                     citations=refs(body.citations) if body.citations is not None else None,
                                     limits=limits(settings)))


@router.post("/import", status_code=201, response_model=ImportOut,
             summary="Import answers from CSV (UTF-8, BOM or not; or CP932) or JSON: all or nothing", responses=ERRORS)
async def import_answers(
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="answers.csv or answers.json, as exported")],
    format: Annotated[Literal["csv", "json"] | None, Form(description="default: from the file name or content")] = None,
    authorization: Auth = None,
) -> ImportOut:
    check_token(settings, authorization)
    data = await file.read(settings.max_answers_import_bytes + 1)
    if len(data) > settings.max_answers_import_bytes:
        raise AnswerImportError(f"the file is over {settings.max_answers_import_bytes // (1024 * 1024)} MiB",
                                "split it, or import it with `regkb answers import`")
    fmt = format or answers_io.sniff_format(data, Path(file.filename or "").name)
    drafts, hashes = answers_io.parse(data, fmt)
    if not drafts:
        raise AnswerImportError("the file holds no answers", "export answers to see the expected layout")
    ids = await run_in_threadpool(service.import_drafts, settings.data_dir, drafts, limits(settings), hashes)
    return ImportOut(imported=len(ids), ids=ids)
