"""Write endpoints: upload a new edition, rebuild the index. Off unless REGKB_ADMIN_TOKEN is set; each request
needs `Authorization: Bearer <token>`. Search stays read-only whatever happens here.

An upload is written to a private temporary file (the client's file name is never used as a path), ingested
(all-or-nothing) and the index rebuilt aside and swapped in; the server keeps answering searches throughout and
follows the new build within a second.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, UploadFile

from api.deps import SettingsDep
from api.schemas import MAX_EDITION
from corpus.dates import parse_date_param
from corpus.errors import RegkbError
from corpus.store import Store

router = APIRouter(prefix="/admin", tags=["admin"])
_write_lock = threading.Lock()  # one ingest or build at a time; a second caller gets 409, not a queue
ALLOWED_SUFFIXES = {".txt", ".pdf"}


class WritesDisabled(RegkbError):
    status = 403


class Unauthorized(RegkbError):
    status = 401


class UploadTooLarge(RegkbError):
    status = 413


class Busy(RegkbError):
    status = 409


def _check_token(settings: Any, authorization: str | None) -> None:
    if not settings.admin_token:
        raise WritesDisabled("write endpoints are disabled", "set REGKB_ADMIN_TOKEN on the server to enable them")
    expected = f"Bearer {settings.admin_token}".encode()
    if not authorization or not hmac.compare_digest(authorization.encode(), expected):
        raise Unauthorized("missing or wrong admin token", "send `Authorization: Bearer <REGKB_ADMIN_TOKEN>`")


def _locked(fn: Any) -> Any:
    if not _write_lock.acquire(blocking=False):
        raise Busy("another ingest or build is running", "try again when it has finished")
    try:
        return fn()
    finally:
        _write_lock.release()


@router.post("/documents", status_code=201, summary="Ingest an uploaded text or PDF file, then rebuild the index")
async def upload(
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A .txt (UTF-8/CP932) or .pdf file")],
    authorization: Annotated[str | None, Header()] = None,
    doc: Annotated[str | None, Form(max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")] = None,
    edition: Annotated[int | None, Form(ge=1, le=MAX_EDITION)] = None,
    date: Annotated[str | None, Form(max_length=32)] = None,
) -> dict[str, Any]:
    _check_token(settings, authorization)
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise RegkbError(f"unsupported file type {suffix or '(none)'!r}", "upload a .txt or .pdf file")
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise UploadTooLarge(f"the upload is over {settings.max_upload_bytes // (1024 * 1024)} MiB",
                             "split the document, or ingest it from the command line")
    issued = parse_date_param(date, "date")

    def work() -> dict[str, Any]:
        from index.build import rebuild_like_current
        from ingest.pipeline import Overrides, ingest_paths

        # Only the base name survives, reduced to safe characters: "../../x.pdf" becomes "x.pdf" in a private dir.
        name = re.sub(r"[^\w.\-]", "_", Path(file.filename or "upload").name)[-100:].lstrip(".") or "upload" + suffix
        tmpdir = tempfile.mkdtemp(prefix="regkb-upload-")
        path = Path(tmpdir) / name
        try:
            path.write_bytes(data)
            parsed = ingest_paths([path], Store(settings.data_dir), Overrides(doc_id=doc, edition=edition, date=issued))
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        from corpus.answers_recheck import recheck_answers

        recheck_answers(settings.data_dir)  # saved answers follow the new edition (after the store's commit)
        build = rebuild_like_current(settings.data_dir, encoder=settings.encoder())
        d = parsed[0].document
        return {"doc": d.id, "edition": d.edition, "edition_label": d.edition_label, "clauses": len(parsed[0].clauses),
                "build_id": build.name}

    return await asyncio.to_thread(_locked, work)


@router.post("/rebuild", summary="Rebuild the index from the stored corpus and swap it in")
async def rebuild(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    _check_token(settings, authorization)

    def work() -> dict[str, Any]:
        from index.build import rebuild_like_current

        return {"build_id": rebuild_like_current(settings.data_dir, encoder=settings.encoder()).name}

    return await asyncio.to_thread(_locked, work)
