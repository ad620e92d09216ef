"""``gems serve``: a local web page and JSON API over a model folder (FastAPI on uvicorn).

    create_app(model_path, allow_hosts=...) -> FastAPI   the app; the model is opened and prepared once, and
                                                         again when a rebuild swaps its folder
    bind(host, port) -> socket               the listening socket (ParameterError when the port is taken)
    serve_forever(app, sock)                 run until Ctrl-C or SIGTERM
    running(app) -> url                      a context manager: the app on a free local port, in a thread

Parts: ``app`` assembles; ``holder`` keeps the current model; ``security`` decides who may ask (Host allow-list,
other origins, the token of uploads); ``routes`` translate requests into calls of the serving facade
(:mod:`gems.serve`), with no logic of their own; ``uploads`` receives exports; ``errors`` words every failure.
"""

from gems.web.app import create_app
from gems.web.server import bind, running, serve_forever, url_of

__all__ = ["bind", "create_app", "running", "serve_forever", "url_of"]
