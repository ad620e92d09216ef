"""Every answer that is not a success, as ``{"error": "..."}``: a user's mistake with its 4xx status (which
status each :class:`~gems.errors.GemsError` gets is :data:`STATUS`), a bug as 500 with its traceback in the log
only."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gems.errors import DataError, GemsError, ModelError, ParameterError, UnknownTrackError

log = logging.getLogger(__name__)

SHOWN = 60  # characters of a refused value quoted back in a message


class UploadTooLarge(ParameterError):
    """An upload past the server's size limit (413)."""


STATUS = [(UploadTooLarge, 413), (UnknownTrackError, 404), (ParameterError, 400)]
STATUS += [(DataError, 422), (ModelError, 422), (GemsError, 400)]


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def error_body(message: str) -> bytes:
    """The JSON body of an error answered below the app (by the security middleware)."""
    return json.dumps({"error": message}).encode()


def _quoted(value) -> str:
    text = str(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}… ({len(text):,} characters)"


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception through one of four handlers: GemsError, invalid parameters, HTTP errors, bugs."""

    @app.exception_handler(GemsError)
    async def gems_error(request: Request, exc: GemsError) -> JSONResponse:
        return error(next(code for kind, code in STATUS if isinstance(exc, kind)), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "request"
            found = problem.get("input")
            shown = f", got '{_quoted(found)}'" if found is not None else ""
            problems.append(f"{where}: {problem.get('msg', 'invalid')}{shown}")
        return error(422, "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = f"no page at {_quoted(request.url.path)}"
        return error(exc.status_code, str(message), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return error(500, f"unexpected {type(exc).__name__}: this is a bug in gems; the server log has the traceback")
