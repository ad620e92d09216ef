"""The routes of ``gems serve``: each takes the current model once (:mod:`gems.web.holder`), calls the serving
facade (:mod:`gems.serve`) and only translates — query parameters in, JSON or files out. Every request costs a
bounded amount: at most MAX_LIKES ``like=``, MAX_SOUNDS ``sounds=`` and MAX_IDS ``id=``/``track=`` values of
MAX_TEXT characters, k and length up to MAX_K, and title matching within the app's ``match_seconds`` (400 past
it).

    GET  /                        the page (static/index.html)
    GET  /api/token               this server's token (text), which POST requests carry in X-Gems-Token
    GET  /api/info                counts, ranking defaults, limits, the upload limit, the listens formats, the
                                  sound words ({words, confident}, or null for a model without them)
    GET  /api/search?q=TEXT       [{track_id, title, soundtrack, artist}], best first, at most 20
    GET  /api/recommend?like=ID&like=ID|user=ID|sounds=WORDS[&sounds=..][&k&discount&tail_share&per_soundtrack
         &deep_cuts&scope]        the objects of ``gems recommend --json``; sounds= with like= or user=, or alone
    POST /api/history?format=F[&sounds=WORDS]   multipart ``file``: a listening export, folded in -> the same objects
    GET  /api/tracks?id=ID...     [{track_id, ..., popularity_rank, has_audio}] for the page's marks and players
    GET  /api/popularity          the long-tail curve (``gems.serve.popularity_curve``)
    GET  /api/audio/{track_id}    the catalogue's file for the track, HTTP Range supported
    GET  /api/playlist?like=..|user=..|sounds=..|track=..&length=N&format=m3u8|xspf|jspf|json   a download (json:
                                  entries)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException

from gems import serve
from gems.errors import ParameterError
from gems.lookup import MatchBudget
from gems.rank.words import CONFIDENT
from gems.serve import playlist_files
from gems.serve.playlist import streamed
from gems.web.uploads import receive_upload

STATIC = Path(__file__).parent / "static"
MAX_K = 200  # the most picks (k) or playlist tracks (length) one request may ask for
MAX_LIKES = 50  # like= values one request may give
MAX_SOUNDS = 20  # sounds= values one request may give
MAX_IDS = 500  # id= or track= values one request may give
MAX_TEXT = 300  # characters of one q=, like=, id=, track= or user= value
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

router = APIRouter()


# --------------------------------------------------------------------------------------------- what requests share
# (coroutines: FastAPI runs a plain function in a worker thread, a hop per dependency)


async def current_model(request: Request):
    """The model this request answers from, taken once (FastAPI caches a dependency within a request); in a
    worker thread only when a rebuilt folder must be waited for."""
    holder = request.app.state.holder
    return holder.model() if holder.fresh() else await run_in_threadpool(holder.model)


async def match_budget(request: Request) -> MatchBudget:
    """The time this request's title matches may take, counted from now."""
    return MatchBudget(request.app.state.match_seconds)


CurrentModel = Annotated[object, Depends(current_model)]
Budget = Annotated[MatchBudget, Depends(match_budget)]
Text = Annotated[str | None, Query(max_length=MAX_TEXT)]


async def ranking(
    model: CurrentModel,
    k: Annotated[int | None, Query(le=MAX_K, description="how many picks")] = None,
    discount: float | None = None,
    tail_share: float | None = None,
    per_soundtrack: int | None = None,
    deep_cuts: bool | None = None,
    scope: str | None = None,
):
    """The model's ranking defaults with the query's overrides (an absent one keeps the default)."""
    query = {"k": k, "discount": discount, "tail_share": tail_share, "per_soundtrack": per_soundtrack}
    query |= {"deep_cuts": deep_cuts, "scope": scope}
    return model.rank_defaults.with_overrides(**query)


def _capped(name: str, values: list[str] | None, most: int) -> list[str]:
    """``values`` of a repeatable parameter, or ParameterError when there are more than ``most`` or one is
    longer than MAX_TEXT."""
    values = values or []
    if len(values) > most:
        raise ParameterError(
            f"{name}= is given {len(values):,} times; one request takes at most {most}: split them over several "
            "requests"
        )
    long = next((value for value in values if len(value) > MAX_TEXT), None)
    if long is not None:
        raise ParameterError(
            f"a {name}= value is {len(long):,} characters long; at most {MAX_TEXT} are read (a track id or a title)"
        )
    return values


async def seeds(like: Annotated[list[str] | None, Query(description=f"at most {MAX_LIKES}")] = None) -> list[str]:
    return _capped("like", like, MAX_LIKES)


async def sound_words(
    sounds: Annotated[list[str] | None, Query(description=f"sound words, at most {MAX_SOUNDS} values")] = None,
) -> list[str]:
    return _capped("sounds", sounds, MAX_SOUNDS)


async def chosen(track: Annotated[list[str] | None, Query(description=f"at most {MAX_IDS}")] = None) -> list[str]:
    return _capped("track", track, MAX_IDS)


async def ids(id: Annotated[list[str] | None, Query(description=f"at most {MAX_IDS}")] = None) -> list[str]:
    return _capped("id", id, MAX_IDS)


Options = Annotated[object, Depends(ranking)]
Seeds = Annotated[list[str], Depends(seeds)]
Sounds = Annotated[list[str], Depends(sound_words)]


# --------------------------------------------------------------------------------------------- routes


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


@router.get("/api/token", response_class=PlainTextResponse)
def token(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.app.state.token, headers={"Cache-Control": "no-store"})


@router.get("/api/info")
def info(request: Request, model: CurrentModel) -> dict:
    limits = {"k": MAX_K, "like": MAX_LIKES, "sounds": MAX_SOUNDS, "ids": MAX_IDS, "text": MAX_TEXT}
    return {
        **serve.catalogue.model_summary(model),
        "upload_limit": request.app.state.upload_limit,
        "limits": {**limits, "match_seconds": request.app.state.match_seconds},
        "formats": serve.catalogue.listens_formats(),
        "sounds": None if model.tags is None else {"words": list(model.tags.words), "confident": CONFIDENT},
    }


@router.get("/api/search")
def search(
    model: CurrentModel,
    budget: Budget,
    q: Annotated[str, Query(max_length=MAX_TEXT)] = "",
    limit: Annotated[int, Query(ge=1, le=serve.catalogue.SEARCH_LIMIT)] = 20,
) -> list[dict]:
    return [s.to_dict() for s in serve.search(model, q, limit, match_budget=budget)]


@router.get("/api/recommend")
def recommend(
    model: CurrentModel, options: Options, budget: Budget, like: Seeds, sounds: Sounds, user: Text = None
) -> list[dict]:
    answer = serve.recommend(model, options, like=like or None, user=user, sounds=sounds, match_budget=budget)
    return [pick.to_dict() for pick in answer.picks]


@router.post("/api/history")
async def history(
    request: Request, model: CurrentModel, options: Options, sounds: Sounds, format: str = "auto"
) -> list[dict]:
    formats = serve.catalogue.listens_formats()
    with tempfile.TemporaryDirectory(prefix="gems-upload-") as folder:
        path, fields = await receive_upload(request, Path(folder), request.app.state.upload_limit)
        format = fields.get("format") or format
        if format not in formats:
            raise ParameterError(f"unknown listens format '{format[:40]}'; use one of {', '.join(formats)}")
        query = {"history": path, "history_format": format, "sounds": sounds}
        answer = await run_in_threadpool(serve.recommend, model, options, **query)
    return [pick.to_dict() for pick in answer.picks]


@router.get("/api/tracks")
def tracks(model: CurrentModel, id: Annotated[list[str], Depends(ids)]) -> list[dict]:
    return serve.catalogue.track_facts(model, id)


@router.get("/api/popularity")
def popularity(model: CurrentModel, points: Annotated[int, Query(ge=2, le=5000)] = 400) -> dict:
    return serve.popularity_curve(model, points)


@router.get("/api/audio/{track_id:path}")
def audio(model: CurrentModel, track_id: str) -> FileResponse:
    path = serve.audio_file(model, track_id)
    if path is None:
        raise HTTPException(
            404,
            f"no audio file for track '{track_id[:MAX_TEXT]}': the id is unknown or its catalogue row names no file",
        )
    return FileResponse(path, media_type=AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream"))


@router.get("/api/playlist")
def playlist(
    request: Request,
    model: CurrentModel,
    options: Options,
    budget: Budget,
    like: Seeds,
    sounds: Sounds,
    track: Annotated[list[str], Depends(chosen)],
    user: Text = None,
    length: Annotated[int, Query(ge=1, le=MAX_K)] = 25,
    arc: bool = False,
    order: Literal["flow", "keep"] = "flow",
    format: Literal["m3u8", "xspf", "jspf", "json"] = "m3u8",
) -> Response:
    if track:
        made = serve.catalogue.playlist_of(model, track, like=like, user=user, arc=arc, flow=order == "flow")
    else:
        options = options.with_overrides(k=length)
        answer = serve.recommend(model, options, like=like or None, user=user, sounds=sounds, match_budget=budget)
        made = serve.playlist_for(model, answer, arc=arc)
    made = streamed(made, str(request.base_url))
    if format == "json":
        return JSONResponse([_entry_dict(e) for e in made.entries])
    body = playlist_files.render(made, f"gems.{format}")
    disposition = f'attachment; filename="gems.{format}"'
    return Response(body, media_type=PLAYLIST_TYPES[format], headers={"Content-Disposition": disposition})


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
