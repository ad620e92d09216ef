"""The routes of ``gems serve``: a JSON API and one static page over a model folder opened once.

Every route calls the serving facade (:mod:`gems.serve`) and only translates: query parameters in, JSON or
files out, a :class:`~gems.errors.GemsError` out as ``{"error": "..."}`` with a 4xx status. The model is shared
by every request; facade calls hold one lock (search aside: it only reads), since the model's lazily read parts
are not built for concurrent first use and a query takes milliseconds.

    GET  /                        the page (static/index.html)
    GET  /api/info                counts, ranking defaults, whether uploads fold in, the listens formats
    GET  /api/search?q=TEXT       [{track_id, title, soundtrack, artist}], best first, at most 20
    GET  /api/recommend?like=ID&like=ID|user=ID[&k&discount&tail_share&per_soundtrack&deep_cuts&scope]
                                  the objects of ``gems recommend --json``
    POST /api/history?format=F    multipart ``file``: a listening export, folded in -> the same objects
    GET  /api/tracks?id=ID...     [{track_id, ..., popularity_rank, has_audio}] for the page's marks and players
    GET  /api/popularity          the long-tail curve (``gems.serve.popularity_curve``)
    GET  /api/audio/{track_id}    the catalogue's file for the track, HTTP Range supported
    GET  /api/playlist?like=..|user=..|track=..&length=N&format=m3u8|xspf|jspf|json   a download (json: entries)
"""

import logging
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from gems import serve
from gems.errors import DataError, GemsError, ModelError, ParameterError, UnknownTrackError
from gems.serve import playlist_files
from gems.serve.playlist import streamed

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_K = 200  # the most picks one request may ask for
UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes of one listening export
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and small fields around the file
AUDIO_TYPES = {
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg; codecs=opus",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
}
PLAYLIST_TYPES = {"m3u8": "audio/mpegurl", "xspf": "application/xspf+xml", "jspf": "application/jspf+json"}


class UploadTooLarge(ParameterError):
    """An upload past the server's size limit (413)."""


STATUS = [(UploadTooLarge, 413), (UnknownTrackError, 404), (ParameterError, 400)]
STATUS += [(DataError, 422), (ModelError, 422), (GemsError, 400)]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(model_path: str | Path, *, upload_limit: int = UPLOAD_LIMIT) -> FastAPI:
    """The app over the model folder at ``model_path``, opened (and warmed) once; ModelError when it is no
    model folder."""
    model = serve.open_model(model_path)
    serve.catalogue.warm(model)
    lock = threading.Lock()

    def call(function, *args, **kwargs):
        with lock:
            return function(model, *args, **kwargs)

    app = FastAPI(title="gems", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.model = model
    app.state.upload_limit = upload_limit
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_error_handlers(app)

    def ranking(
        k: Annotated[int | None, Query(le=MAX_K, description="how many picks")] = None,
        discount: float | None = None,
        tail_share: float | None = None,
        per_soundtrack: int | None = None,
        deep_cuts: bool | None = None,
        scope: str | None = None,
    ):
        return call(
            lambda model, **query: model.rank_defaults.with_overrides(**query),
            k=k,
            discount=discount,
            tail_share=tail_share,
            per_soundtrack=per_soundtrack,
            deep_cuts=deep_cuts,
            scope=scope,
        )

    Options = Annotated[object, Depends(ranking)]
    Ids = Annotated[list[str] | None, Query()]

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/api/info")
    def info() -> dict:
        summary = call(serve.catalogue.model_summary)
        return {
            **summary,
            "upload_limit": upload_limit,
            "formats": serve.catalogue.listens_formats(),
        }

    @app.get("/api/search")
    def search(q: str = "", limit: Annotated[int, Query(ge=1, le=serve.catalogue.SEARCH_LIMIT)] = 20) -> list[dict]:
        # without the lock: a lookup only reads, and on a million tracks its fuzzy scan takes a second or more,
        # which recommendations should not queue behind
        return [s.to_dict() for s in serve.search(model, q, limit)]

    @app.get("/api/recommend")
    def recommend(options: Options, like: Ids = None, user: str | None = None) -> list[dict]:
        answer = call(serve.recommend, options, like=like or None, user=user)
        return [pick.to_dict() for pick in answer.picks]

    @app.post("/api/history")
    async def history(request: Request, options: Options, format: str = "auto") -> list[dict]:
        with tempfile.TemporaryDirectory(prefix="gems-upload-") as folder:
            path, fields = await _receive_upload(request, Path(folder), upload_limit)
            format = fields.get("format") or format
            if format not in serve.catalogue.listens_formats():
                raise ParameterError(
                    f"unknown listens format '{format}'; use one of {', '.join(serve.catalogue.listens_formats())}"
                )
            answer = await run_in_threadpool(call, serve.recommend, options, history=path, history_format=format)
        return [pick.to_dict() for pick in answer.picks]

    @app.get("/api/tracks")
    def tracks(id: Ids = None) -> list[dict]:
        return call(serve.catalogue.track_facts, id or [])

    @app.get("/api/popularity")
    def popularity(points: Annotated[int, Query(ge=2, le=5000)] = 400) -> dict:
        return call(serve.popularity_curve, points)

    @app.get("/api/audio/{track_id:path}")
    def audio(track_id: str) -> FileResponse:
        path = call(serve.audio_file, track_id)
        if path is None:
            raise HTTPException(
                404, f"no audio file for track '{track_id}': the id is unknown or its catalogue row names no file"
            )
        return FileResponse(path, media_type=AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream"))

    @app.get("/api/playlist")
    def playlist(
        request: Request,
        like: Ids = None,
        user: str | None = None,
        track: Ids = None,
        length: Annotated[int, Query(le=MAX_K)] = 25,
        arc: bool = False,
        order: Literal["flow", "keep"] = "flow",
        format: Literal["m3u8", "xspf", "jspf", "json"] = "m3u8",
        discount: float | None = None,
        tail_share: float | None = None,
        per_soundtrack: int | None = None,
        deep_cuts: bool | None = None,
        scope: str | None = None,
    ) -> Response:
        if track:
            made = call(serve.catalogue.playlist_of, track, like=like or [], user=user, arc=arc, flow=order == "flow")
        else:
            options = ranking(
                k=length,
                discount=discount,
                tail_share=tail_share,
                per_soundtrack=per_soundtrack,
                deep_cuts=deep_cuts,
                scope=scope,
            )
            answer = call(serve.recommend, options, like=like or None, user=user)
            made = call(serve.playlist_for, answer, arc=arc)
        made = streamed(made, str(request.base_url))
        if format == "json":
            return JSONResponse([_entry_dict(e) for e in made.entries])
        body = playlist_files.render(made, f"gems.{format}")
        disposition = f'attachment; filename="gems.{format}"'
        return Response(body, media_type=PLAYLIST_TYPES[format], headers={"Content-Disposition": disposition})

    return app


def _entry_dict(entry) -> dict:
    """A playlist entry as the page reads it."""
    return {
        "track_id": entry.track_id,
        "title": entry.title,
        "artist": entry.artist,
        "soundtrack": entry.album,
        "duration_s": entry.duration_s,
        "location": entry.location,
    }


async def _receive_upload(request: Request, folder: Path, limit: int) -> tuple[Path, dict]:
    """The multipart field ``file`` written to ``folder`` (named ``upload`` + its file name's suffix), and the
    form's other fields; UploadTooLarge as soon as more than ``limit`` bytes arrive."""
    too_large = UploadTooLarge(
        f"the upload is larger than this server's limit of {limit / 2**20:.0f} MB; "
        "upload a smaller export (one year of history, say) or split it"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
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
        target = folder / ("upload" + (suffix if suffix[1:].isalnum() and len(suffix) <= 9 else ""))
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


def _install_error_handlers(app: FastAPI) -> None:
    """Every error as ``{"error": "..."}``: a user's mistake with its 4xx status, a bug as 500 (logged)."""

    @app.exception_handler(GemsError)
    async def gems_error(request: Request, exc: GemsError) -> JSONResponse:
        status = next(code for kind, code in STATUS if isinstance(exc, kind))
        return _error(status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "request"
            found = problem.get("input")
            problems.append(
                f"{where}: {problem.get('msg', 'invalid')}" + (f", got '{found}'" if found is not None else "")
            )
        return _error(422, "; ".join(problems))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = (
            exc.detail if exc.status_code != 404 or exc.detail != "Not Found" else f"no page at {request.url.path}"
        )
        return _error(exc.status_code, str(message))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return _error(500, f"unexpected {type(exc).__name__}: this is a bug in gems; the server log has the traceback")
