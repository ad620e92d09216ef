"""``create_app``: the app of ``gems serve``, assembled from its parts — the model holder
(:mod:`gems.web.holder`), the security middleware (:mod:`gems.web.security`), the error answers
(:mod:`gems.web.errors`), the routes (:mod:`gems.web.routes`) and the static page."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gems.web import routes
from gems.web.errors import install_error_handlers
from gems.web.holder import ModelHolder
from gems.web.security import Guard, allowed_hosts
from gems.web.uploads import UPLOAD_LIMIT

MATCH_SECONDS = 2.0  # the time the title matches of one request may take


def create_app(
    model_path: str | Path,
    *,
    upload_limit: int = UPLOAD_LIMIT,
    allow_hosts: tuple[str, ...] | list[str] = (),
    match_seconds: float = MATCH_SECONDS,
) -> FastAPI:
    """The app over the model folder at ``model_path``, opened and prepared now (ModelError when it is no model
    folder) and renewed when a rebuild swaps it; ``allow_hosts``: the ``--allow-host`` names (ParameterError for
    one that is no host name)."""
    allow = allowed_hosts(allow_hosts)
    app = FastAPI(title="gems", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.holder = ModelHolder(model_path)
    app.state.upload_limit = upload_limit
    app.state.match_seconds = match_seconds
    app.state.token = secrets.token_urlsafe(32)
    app.add_middleware(Guard, token=app.state.token, allow=allow)
    install_error_handlers(app)
    app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=routes.STATIC), name="static")
    return app
