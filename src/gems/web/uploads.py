"""Receiving a listening export: a multipart upload written to a temporary folder, counted as it arrives."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from starlette.datastructures import UploadFile

from gems.errors import DataError, ParameterError
from gems.web.errors import UploadTooLarge

UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes of one listening export
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and small fields around the file


async def receive_upload(request: Request, folder: Path, limit: int) -> tuple[Path, dict]:
    """The multipart field ``file`` written to ``folder`` (named ``upload`` + its file name's suffix), and the
    form's other fields; UploadTooLarge as soon as more than ``limit`` bytes arrive."""
    too_large = UploadTooLarge(
        f"the upload is larger than this server's limit of {limit / 2**20:.0f} MB; "
        "upload a smaller export (one year of history, say) or split it"
    )
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise too_large
    received = 0

    async def receive():
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit + FORM_OVERHEAD:
            raise too_large
        return message

    limited = Request(request.scope, receive)
    async with limited.form(max_files=1, max_fields=8) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ParameterError(
                "send the listening export as a multipart/form-data file field named 'file' "
                "(curl -F file=@export.zip URL)"
            )
        suffix = Path(upload.filename or "").suffix.lower()
        kept = suffix[1:].isascii() and suffix[1:].isalnum() and len(suffix) <= 9
        target = folder / ("upload" + (suffix if kept else ""))
        size = 0
        with target.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise too_large
                out.write(chunk)
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if size == 0:
        raise DataError(f"the uploaded file '{upload.filename}' is empty; choose the export file itself")
    return target, fields
