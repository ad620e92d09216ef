"""The ``gems`` application: its options shared by several commands, its console, and the entry point that
turns a user's mistake into one red line and exit code 1."""

from __future__ import annotations

import errno
import logging
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from gems.errors import GemsError, ParameterError
from gems.terminal import PrintableLog, shown

app = typer.Typer(
    name="gems",
    help="Find the overlooked tracks of soundtracks: hidden gems close to what you love, discounted by popularity.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

# ----------------------------------------------------------------------------------------- shared options

ModelDir = Annotated[Path, typer.Option("--model", "-m", help="Model folder written by `gems build`.")]
TopK = Annotated[int | None, typer.Option("-k", "--k", help="How many tracks to return [default: the model's, 10].")]
Discount = Annotated[
    float | None,
    typer.Option(
        "--discount",
        help="Popularity discount strength: 0 = none, higher = deeper into the tail [default: the model's].",
    ),
]
PerSoundtrack = Annotated[
    int | None, typer.Option("--per-soundtrack", help="At most this many picks per soundtrack (0 = no cap).")
]
Scope = Annotated[
    str | None, typer.Option("--scope", help="What may be recommended: soundtrack (soundtrack music only) or all.")
]
DeepCuts = Annotated[
    bool | None,
    typer.Option("--deep-cuts", help="Only the overlooked tracks of the soundtracks you seeded (no themes)."),
]
TailShare = Annotated[
    float | None, typer.Option("--tail-share", help="Share of the list reserved for long-tail tracks (0-1).")
]
Like = Annotated[
    list[str] | None,
    typer.Option(
        "--like",
        "-l",
        help="A seed track you love: its id or title (fuzzy; 'Title (Soundtrack)' to disambiguate). Repeatable.",
    ),
]
Sounds = Annotated[
    list[str] | None,
    typer.Option(
        "--sounds",
        help='Sound words to search by, e.g. "slow strings" (MagnaTagATune\'s 50: ambient, electronic, piano, '
        "choir...; a wrong one lists them all). Repeatable; alone, or with --like, --user or --history.",
    ),
]
User = Annotated[
    str | None, typer.Option("--user", "-u", help="A listener id from the model's listens: their history is the seed.")
]
History = Annotated[
    Path | None,
    typer.Option(
        "--history",
        help="Your own listening export (Spotify, Last.fm, ListenBrainz, MPD, a table...): linked to the model's "
        "tracks and folded in, no rebuild.",
    ),
]
HistoryFormat = Annotated[str, typer.Option("--history-format", help="Format of --history [default: detected].")]
HistoryUser = Annotated[
    str | None, typer.Option("--history-user", help="The listener of --history to use, when it holds several.")
]
Workers = Annotated[int | None, typer.Option("--workers", "-w", help="Worker processes [default: one per core].")]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Run audio extraction / export on the Dask cluster at this address (tcp://host:8786; needs gems[dask]) "
        "[default: local worker processes; gems build: the pipeline's [dask] scheduler, '' forces local; gems "
        "export never takes it from the model folder, which may come from anyone]."
    ),
]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="Hide progress bars.")]
FORMAT_HELP = (
    "Listens format: auto, mpd, lastfm-hetrec, listenbrainz, spotify-history, spotify-account, "
    "lastfm-scrobbles, table (generic CSV/TSV/Parquet)."
)
ListensFormat = Annotated[str, typer.Option(help=FORMAT_HELP)]
ListensColumns = Annotated[
    list[str] | None,
    typer.Option(help="Map generic table columns: user=COL,track=COL,weight=COL,timestamp=COL."),
]


def new_console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def error(message: str) -> int:
    """Print one red, unwrapped line on stderr; returns the exit code 1."""
    new_console(stderr=True).print(f"[red]error:[/] {shown(message)}")
    return 1


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what each stage does.")] = False) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=new_console(stderr=True), show_path=False, show_time=False)],
        force=True,
    )
    logging.getLogger().handlers[0].addFilter(PrintableLog())


def parse_columns(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    mapping = {}
    for pair in ",".join(pairs).split(","):
        role, sep, column = pair.partition("=")
        if not sep or not role.strip() or not column.strip():
            raise ParameterError(f"--listens-columns takes ROLE=COLUMN pairs such as user=uid,track=song; got '{pair}'")
        mapping[role.strip()] = column.strip()
    return mapping


# ----------------------------------------------------------------------------------------- entry point


class Stopped(KeyboardInterrupt):
    """Ctrl-C (SIGINT), SIGTERM or SIGHUP while a command runs: every block unwinds and removes its temporaries."""

    def __init__(self, how: str):
        super().__init__(how)
        self.how = how


# errors of the machine, never of gems: a full disk, a permission, a file gone — one line saying what to do
_MACHINE_ERRORS = {
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "ENOENT", "EIO", "EMFILE", "ENFILE", "ENOTDIR")
    if hasattr(errno, name)
}


@contextmanager
def _stopping_signals():
    """While the command runs, SIGINT, SIGTERM and SIGHUP raise :class:`Stopped` (in the main thread only);
    yields the list of how it was stopped, which typer hides behind exit code 130."""
    import threading

    stops: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield stops
        return

    def stop(number, frame) -> None:
        # a second Ctrl-C may still cut the clean-up short; a second SIGTERM may not
        signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_IGN)
        stops.append("interrupted" if number == signal.SIGINT else "terminated")
        raise Stopped(stops[-1])

    # a signal ignored when gems started stays ignored (nohup ignores SIGHUP; `cmd &` in a script, SIGINT)
    numbers = [n for n in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) if signal.getsignal(n) != signal.SIG_IGN]
    previous = {number: signal.signal(number, stop) for number in numbers}
    try:
        yield stops
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a user mistake, an error of the machine, Ctrl-C or SIGTERM prints one red line on stderr and
    returns 1."""
    with _stopping_signals() as stops:
        try:
            result = app(args=argv, prog_name="gems", standalone_mode=False)
        except GemsError as exc:
            return error(str(exc))
        except typer.Abort:
            return error("aborted")
        except typer.TyperException as exc:  # usage errors: a missing option, a bad value, an unknown command
            context = getattr(exc, "ctx", None)
            hint = f" (see `{context.command_path} --help`)" if context is not None else ""
            return error(exc.format_message() + hint)
        except KeyboardInterrupt as exc:
            return error(f"{getattr(exc, 'how', 'interrupted')}; nothing half-written was kept")
        except OSError as exc:
            return _machine_error(exc) if exc.errno in _MACHINE_ERRORS else _bug(exc)
        except Exception as exc:
            return _bug(exc)
    if result == 130 and stops:  # typer turns an interrupt into exit code 130, silently
        return error(f"{stops[0]}; nothing half-written was kept")
    return result if isinstance(result, int) else 0


def _machine_error(exc: OSError) -> int:
    from gems.safe_files import describe_os_error

    writing = True if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EROFS) else None
    return error(f"{exc.filename or 'a file'}: {describe_os_error(exc, writing=writing)}")


def _bug(exc: Exception) -> int:
    """A bug in gems, not the user's mistake: still one line, the traceback on demand."""
    if logging.getLogger().isEnabledFor(logging.INFO):  # --verbose
        logging.getLogger("gems").error("unexpected error", exc_info=exc)
    return error(
        f"unexpected {type(exc).__name__}: {exc} — this is a bug in gems; please report it "
        "(run again with --verbose to see the traceback)"
    )
