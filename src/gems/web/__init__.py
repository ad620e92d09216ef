"""``gems serve``: a local web page and JSON API over a model folder (FastAPI on uvicorn).

    create_app(model_path) -> FastAPI        the app; the model is opened and warmed once
    bind(host, port) -> socket               the listening socket (ParameterError when the port is taken)
    serve_forever(app, sock)                 run until Ctrl-C or SIGTERM
    running(app) -> url                      a context manager: the app on a free local port, in a thread

The routes have no logic of their own: each calls the serving facade (:mod:`gems.serve`).
"""

from gems.web.app import create_app
from gems.web.server import bind, running, serve_forever, url_of

__all__ = ["bind", "create_app", "running", "serve_forever", "url_of"]
