"""The ``gems`` command line: parse options, call one library function, print.

Heavy libraries are imported inside the commands that need them, so ``gems recommend`` starts fast. A user's
mistake (a :class:`~gems.errors.GemsError` or a usage error) prints one red line and exits with code 1.

    app.py       the Typer application, the options several commands share, the entry point
    sources.py   build, extract, ingest, link
    serving.py   recommend, playlist, export, serve
    reports.py   evaluate, info, demo
"""

# importing the command modules registers their commands, in the order `gems --help` lists them
from gems.cli import sources  # noqa: F401, I001
from gems.cli import serving  # noqa: F401
from gems.cli import reports  # noqa: F401
from gems.cli.app import app, main

__all__ = ["app", "main"]
