"""Commands that serve a model: recommend, playlist, export, serve."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from gems.cli.app import (
    DeepCuts,
    Discount,
    History,
    HistoryFormat,
    HistoryUser,
    Like,
    ModelDir,
    NoProgress,
    PerSoundtrack,
    Scheduler,
    Scope,
    Sounds,
    TailShare,
    TopK,
    User,
    Workers,
    app,
    new_console,
)
from gems.errors import ParameterError
from gems.terminal import json_text, shown


def print_picks(model, seeds, picks, heading: str) -> None:
    """Each pick on one line (◆ marks the long tail), its explanation indented beneath."""
    from gems.rank.words import confident
    from gems.serve.explain import percent

    console = new_console()
    console.print(f"[bold]{shown(heading)}[/]")
    if seeds:
        console.print("seeds: " + "; ".join(shown(model.label(s)) for s in seeds))
    noun = model.listener_noun
    for i, pick in enumerate(picks, 1):
        gem = "[green]◆[/]" if pick.is_tail else " "
        standing = (
            f"{pick.popularity:,} {noun}{'s' if pick.popularity != 1 else ''} · percentile {percent(pick.popularity_percentile)}"
            if model.has_listens
            else "no listening data"
        )
        words = confident((tag["word"], tag["p"]) for tag in pick.tags)
        standing += f" · sounds {', '.join(words)}" if words else ""
        console.print(f"{i:>3} {gem} {shown(model.label(pick.row))}  [dim]{shown(standing)}[/]")
        console.print(f"      [dim]{shown(pick.why)}[/]")
    if model.simulated:
        console.print("[dim]listener counts come from a simulated listening log · ◆ = long tail[/]")


@app.command(
    epilog="Examples:\n\n"
    '  gems recommend --model models/demo --like "Main Theme"\n\n'
    '  gems recommend -m models/demo --like "Menu (Warzone 2100 OST)" --like hyperrogue-hr3-caves -k 5 --json\n\n'
    "  gems recommend -m models/demo --user sim-user-0007 --discount 0\n\n"
    '  gems recommend -m models/demo --sounds "slow strings" -k 5\n\n'
    '  gems recommend -m models/demo --like "Main Theme" --sounds ambient\n\n'
    "  gems recommend -m models/mpd --history my_spotify_data.zip -k 20"
)
def recommend(
    model: ModelDir,
    like: Like = None,
    sounds: Sounds = None,
    user: User = None,
    history: History = None,
    history_format: HistoryFormat = "auto",
    history_user: HistoryUser = None,
    k: TopK = None,
    discount: Discount = None,
    per_soundtrack: PerSoundtrack = None,
    scope: Scope = None,
    deep_cuts: DeepCuts = None,
    tail_share: TailShare = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """Hidden gems close to the tracks you love, a listener's history, your own export or sound words, popularity
    discounted."""
    from gems.serve import open_model, recommend

    loaded = open_model(model)
    options = loaded.rank_defaults.with_overrides(
        k=k, discount=discount, per_soundtrack=per_soundtrack, scope=scope, deep_cuts=deep_cuts, tail_share=tail_share
    )
    query = {"history": history, "history_format": history_format, "history_user": history_user}
    answer = recommend(loaded, options, like=like, user=user, sounds=sounds, **query)
    if answer.linked is not None:
        new_console(stderr=as_json).print(f"history: {shown(answer.linked)}")
    if answer.note is not None:
        new_console(stderr=as_json).print(f"[yellow]{shown(answer.note)}[/]")
    if as_json:
        sys.stdout.write(json_text([p.to_dict() for p in answer.picks]) + "\n")
        return
    sounding = f" sounding {', '.join(answer.words)}" if answer.words else ""
    print_picks(
        loaded, answer.seeds, answer.picks, f"Hidden gems {answer.who}" if answer.user else f"Hidden gems{sounding}"
    )


@app.command(
    epilog="Examples:\n\n"
    '  gems playlist --model models/demo --like "Main Theme" --length 12 --out gems.m3u8\n\n'
    '  gems playlist -m models/demo --like "Main Theme" --like "Desert" --arc --out gems.xspf\n\n'
    "  gems playlist -m models/demo --user sim-user-0042 --length 25 --out mine.jspf\n\n"
    '  gems playlist -m models/demo --sounds "slow strings" --length 10 --out calm.m3u8'
)
def playlist(
    model: ModelDir,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Playlist file to write; its suffix picks the format: .m3u8, .xspf or .jspf."),
    ],
    like: Like = None,
    sounds: Sounds = None,
    user: User = None,
    history: History = None,
    history_format: HistoryFormat = "auto",
    history_user: HistoryUser = None,
    length: Annotated[int, typer.Option("--length", "-n", help="Number of tracks.")] = 25,
    arc: Annotated[
        bool, typer.Option("--arc", help="Let the energy rise to a peak two thirds of the way, then fall.")
    ] = False,
    discount: Discount = None,
    per_soundtrack: PerSoundtrack = None,
    scope: Scope = None,
    deep_cuts: DeepCuts = None,
) -> None:
    """A playlist of hidden gems, ordered so the sound flows, in a file your player opens."""
    from gems.model import Model
    from gems.serve.playlist import make_playlist

    if not 1 <= length <= 10_000:
        raise ParameterError(f"--length must be between 1 and 10000 tracks, got {length}")
    loaded = Model(model)
    options = loaded.rank_defaults.with_overrides(
        k=length, discount=discount, per_soundtrack=per_soundtrack, scope=scope, deep_cuts=deep_cuts
    )
    query = {"history": history, "history_format": history_format, "history_user": history_user}
    summary = make_playlist(loaded, out, options, arc=arc, like=like, user=user, sounds=sounds, **query)
    if summary.answer.linked is not None:
        new_console().print(f"history: {shown(summary.answer.linked)}")
    if summary.answer.note is not None:
        new_console().print(f"[yellow]{shown(summary.answer.note)}[/]")
    note = f" ({summary.without_file} without a local audio file, listed by track URI)" if summary.without_file else ""
    new_console().print(f"{summary.tracks} tracks -> {shown(summary.path)}{note}")


@app.command(
    epilog="Examples:\n\n"
    "  gems export --model models/demo -k 50 --out recs.parquet\n\n"
    "  gems export -m models/mpd --users users.txt -k 50 --out recs.csv\n\n"
    "  gems export -m models/demo -k 25 --playlists playlists --playlist-format xspf\n\n"
    "  gems export -m models/mpd --histories new_playlists/ --histories-format mpd -k 50 --out recs.parquet"
)
def export(
    model: ModelDir,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Recommendations file to write: .parquet, .csv or .jsonl.")
    ] = None,
    playlists: Annotated[
        Path | None,
        typer.Option(help="Folder to write one playlist per user into, ordered for flow (with or without --out)."),
    ] = None,
    playlist_format: Annotated[str, typer.Option(help="Format of the --playlists files: m3u8, xspf or jspf.")] = "m3u8",
    users: Annotated[
        Path | None, typer.Option(help="Text file of user ids, one per line [default: every user].")
    ] = None,
    histories: Annotated[
        Path | None,
        typer.Option(
            help="Listening exports the model never saw (a file or folder, any format gems reads): export for "
            "every listener they hold, folded in [user_id as the source names it; MPD: the playlist's pid]."
        ),
    ] = None,
    histories_format: Annotated[str, typer.Option(help="Format of --histories [default: detected].")] = "auto",
    k: TopK = None,
    discount: Discount = None,
    per_soundtrack: PerSoundtrack = None,
    scope: Scope = None,
    tail_share: TailShare = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    no_progress: NoProgress = False,
) -> None:
    """Top-k recommendations for many listeners: rows user_id, rank, track_id, score, popularity; and/or a
    playlist file per listener. An interrupted export resumes where it stopped when run again."""
    from gems.model import Model
    from gems.parallel import Runner, default_workers
    from gems.serve.export import export_batch, read_user_ids

    if out is None and playlists is None:
        raise ParameterError(
            "give --out FILE (a recommendations table), --playlists DIR (a playlist per user), or both"
        )
    loaded = Model(model)
    options = loaded.rank_defaults.with_overrides(
        k=k, discount=discount, per_soundtrack=per_soundtrack, scope=scope, tail_share=tail_share
    )
    wanted = read_user_ids(users) if users is not None else None
    found = None
    if histories is not None:
        from gems.serve.history import read_histories

        found = read_histories(loaded, histories, fmt=histories_format).only(wanted)
        new_console().print(f"histories: {shown(found.summary)}; {shown(found)}")
    summary = export_batch(
        loaded,
        options,
        out=out,
        playlists=playlists,
        playlist_format=playlist_format,
        user_ids=None if found is not None else wanted,
        histories=found,
        show_progress=not no_progress,
        runner=Runner(workers=default_workers() if workers is None else workers, scheduler=scheduler or None),
    )
    console = new_console()
    fell_back = (
        f" ({summary.fallback:,} of them the fallback: nothing of their listening led to a pick)"
        if found is not None
        else ""
    )
    if out is not None:
        console.print(
            f"{summary.rows:,} recommendations for {summary.users:,} users{fell_back} -> {shown(summary.out)}"
        )
    if playlists is not None:
        fell_back = fell_back if out is None else ""  # said once
        console.print(
            f"{summary.playlists:,} playlists ({summary.rows:,} tracks){fell_back} -> {shown(summary.playlist_folder)}"
        )


@app.command(
    epilog="Examples:\n\n"
    "  gems serve --model models/demo\n\n"
    "  gems serve -m models/demo --port 9000\n\n"
    "  gems serve -m models/mine --host 0.0.0.0 --allow-host mybox.local   # your network, by address or by name"
)
def serve(
    model: ModelDir,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 opens it to your network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Also answer requests addressed to this host name (repeatable; NAME:PORT for another port, as "
            "behind a proxy). Without it only localhost, 127.0.0.1, [::1] and the address a request arrives at "
            "are answered, which stops other web pages reaching the server through DNS rebinding.",
        ),
    ] = None,
) -> None:
    """A web page over a model: search seeds, listen to the gems, re-rank, build and download playlists."""
    if not 0 <= port <= 65535:
        raise ParameterError(f"--port must be between 0 (any free port) and 65535, got {port}")
    import gems.web as web  # FastAPI and uvicorn only here: the other commands start without them

    verbose = logging.getLogger().isEnabledFor(logging.INFO)
    application = web.create_app(model, allow_hosts=allow_host or ())
    sock = web.bind(host, port)
    new_console().print(f"gems serving {shown(model)} at [bold]{shown(web.url_of(sock))}[/]  (Ctrl-C stops)")
    if host in ("0.0.0.0", "::"):
        new_console().print("and to your network, at this machine's addresses (by a name: --allow-host NAME)")
    web.serve_forever(application, sock, log_level="info" if verbose else "warning")
    new_console().print("stopped")
