"""The ``gems`` command line: parse options, call one library function, print.

Heavy libraries are imported inside the commands that need them, so ``gems recommend`` starts fast. A user's
mistake (a :class:`~gems.errors.GemsError` or a usage error) prints one red line and exits with code 1.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gems.errors import GemsError, ParameterError

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
    bool, typer.Option("--deep-cuts", help="Only the overlooked tracks of the soundtracks you seeded (no themes).")
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
User = Annotated[
    str | None, typer.Option("--user", "-u", help="A listener id from the model's listens: their history is the seed.")
]
Workers = Annotated[int | None, typer.Option("--workers", "-w", help="Worker processes [default: one per core].")]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Run audio extraction / export on the Dask cluster at this address (tcp://host:8786; needs gems[dask]) "
        "[default: the pipeline's [dask] scheduler, else local worker processes; '' forces local]."
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


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _error(message: str) -> int:
    """Print one red, unwrapped line on stderr; returns the exit code 1."""
    _console(stderr=True).print(f"[red]error:[/] {escape(message)}")
    return 1


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what each stage does.")] = False) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=_console(stderr=True), show_path=False, show_time=False)],
        force=True,
    )


# ----------------------------------------------------------------------------------------- build


def _parse_columns(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    mapping = {}
    for pair in ",".join(pairs).split(","):
        role, sep, column = pair.partition("=")
        if not sep or not role.strip() or not column.strip():
            raise ParameterError(f"--listens-columns takes ROLE=COLUMN pairs such as user=uid,track=song; got '{pair}'")
        mapping[role.strip()] = column.strip()
    return mapping


def _print_report(console, report: dict) -> None:
    """One source's ingest report: rows kept, then each set-aside reason with a count and an example."""
    console.print(
        f"[bold]{report['source']}[/]: {report['format']}, {report['rows_kept']:,} of {report['rows_read']:,} rows kept"
    )
    for reason, n in report["set_aside"].items():
        example = (report["examples"].get(reason) or [""])[0]
        console.print(f"  set aside {n:,} × {reason}" + (f"  [dim]e.g. {escape(example)}[/]" if example else ""))
    for note in report["notes"]:
        console.print(f"  [yellow]note:[/] {escape(note)}")


def _print_build(result) -> None:
    from rich.table import Table

    console = _console()
    for report in result.reports:
        _print_report(console, report)
    if result.audio_failures:
        console.print(f"[yellow]{len(result.audio_failures)} audio file(s) skipped:[/]")
        for failure in result.audio_failures:
            console.print(f"  [yellow]{failure['status']}[/] {escape(failure['path'])}: {escape(failure['reason'])}")
    table = Table(title=None, box=None, pad_edge=False)
    for column in ("stage", "status", "seconds", "counts"):
        table.add_column(column)
    for name, stage in result.manifest["stages"].items():
        counts = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in stage["counts"].items())
        table.add_row(name, "reused" if stage["reused"] else "built", f"{stage['seconds']:.2f}", counts)
    console.print(table)
    counts = result.manifest["counts"]
    simulated = " (simulated)" if result.manifest["listens_simulated"] else ""
    console.print(
        f"[green]model written to {result.path}[/] in {result.seconds:.1f}s: {counts['tracks']:,} tracks, "
        f"{counts['listens']:,} listens{simulated} by {counts['users']:,} listeners, "
        f"{counts['audio_ok']:,} with audio; spaces: {', '.join(result.manifest['spaces']) or 'none'}"
    )


@app.command(
    epilog="Examples:\n\n"
    "  gems build pipelines/demo.toml\n\n"
    "  gems build --audio ~/Music/OST --model models/mine\n\n"
    "  gems build --catalog tracks.csv --listens plays.csv --listens-columns user=uid,weight=n --model models/mine"
)
def build(
    pipeline: Annotated[Path | None, typer.Argument(help="Pipeline TOML file (flags override it).")] = None,
    audio: Annotated[Path | None, typer.Option(help="Folder of audio files (wav, flac, ogg, opus, mp3).")] = None,
    catalog: Annotated[
        Path | None, typer.Option(help="Catalogue table (CSV/TSV/Parquet) with track_id, title, path, ...")
    ] = None,
    listens: Annotated[Path | None, typer.Option(help="Listens file or folder.")] = None,
    listens_format: Annotated[str | None, typer.Option(help="Listens format: auto, table (CSV/TSV/Parquet).")] = None,
    listens_columns: Annotated[
        list[str] | None, typer.Option(help="Map listens columns: user=COL,track=COL,weight=COL,timestamp=COL.")
    ] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model folder to write.")] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    no_progress: NoProgress = False,
) -> None:
    """Build a model folder: ingest, audio embeddings, ALS, popularity, indexes. Unchanged stages are reused."""
    from dataclasses import replace

    from gems.build import build_model, load_or_default_config

    config = load_or_default_config(
        pipeline,
        model=model,
        audio=audio,
        catalog=catalog,
        listens=listens,
        listens_format=listens_format,
        listens_columns=_parse_columns(listens_columns),
    )
    if workers is not None:
        if workers < 1:
            raise ParameterError(f"--workers must be at least 1, got {workers}")
        config = replace(config, audio_params=replace(config.audio_params, workers=workers))
    if scheduler is not None:
        config = replace(config, dask=replace(config.dask, scheduler=scheduler))
    _print_build(build_model(config, show_progress=not no_progress))


@app.command(
    epilog="Examples:\n\n  gems extract data/demo/audio --out embeddings.parquet\n\n  gems extract ~/Music/OST --out ost.parquet --workers 2 --strict"
)
def extract(
    audio_dir: Annotated[Path, typer.Argument(help="Folder of audio files, searched recursively.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write: one row per file.")],
    workers: Workers = None,
    scheduler: Scheduler = None,
    dims: Annotated[int, typer.Option(help="Embedding dimensions (at most files − 1).")] = 24,
    excerpt: Annotated[
        float, typer.Option(help="Seconds analysed from the middle of each file (0 = whole file).")
    ] = 30.0,
    strict: Annotated[bool, typer.Option(help="Exit with code 1 if any file fails.")] = False,
    no_progress: NoProgress = False,
) -> None:
    """Audio embeddings alone: a row per file with `status` ("ok" or what went wrong), `reason` and `embedding`."""
    from gems.extract import extract_folder

    summary = extract_folder(
        audio_dir,
        out,
        workers=workers,
        scheduler=scheduler,
        dims=dims,
        excerpt_s=excerpt,
        show_progress=not no_progress,
    )
    console = _console()
    for failure in summary.failures:
        console.print(f"  [yellow]{failure['status']}[/] {escape(failure['path'])}: {escape(failure['reason'])}")
    console.print(
        f"{summary.ok:,} of {summary.files:,} files embedded ({summary.dims} dims) in {summary.seconds:.1f}s "
        f"[{summary.cache_hits:,} from cache] -> {out}"
    )
    if summary.ok == 0 or (strict and summary.failures):
        raise typer.Exit(1)


@app.command(
    epilog="Examples:\n\n"
    "  gems ingest --listens ../shared/data/mpd-sample/slices --out mpd.parquet\n\n"
    "  gems ingest --listens my_spotify_data.zip --out me.parquet\n\n"
    "  gems ingest --listens scrobbles.csv --listens-format lastfm-scrobbles --out me.parquet"
)
def ingest(
    listens: Annotated[Path, typer.Option(help="Listens file, folder or zip.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write (the canonical listens table).")],
    listens_format: ListensFormat = "auto",
    listens_columns: ListensColumns = None,
) -> None:
    """Read a listening export into the canonical listens table, and say what was understood."""
    from gems.ingest import ingest_listens

    summary = ingest_listens(listens, out, format=listens_format, columns=_parse_columns(listens_columns))
    console = _console()
    how = "detected" if summary.detected else "as asked"
    console.print(f"format: [bold]{summary.format}[/] ({how})")
    _print_report(console, summary.report.to_dict())
    console.print(
        f"{summary.users:,} users, {summary.tracks:,} tracks ({summary.soundtrack_tracks:,} soundtrack) -> {summary.out}"
    )


# ----------------------------------------------------------------------------------------- serve


def _options(model, k, discount, per_soundtrack, scope=None, deep_cuts=False, tail_share=None):
    from gems.serve import rank_options

    return rank_options(
        model,
        k=k,
        discount=discount,
        per_soundtrack=per_soundtrack,
        scope=scope,
        deep_cuts=deep_cuts,
        tail_share=tail_share,
    )


def _print_picks(model, seeds, picks, heading: str) -> None:
    """Each pick on one line (◆ marks the long tail), its explanation indented beneath."""
    from gems.serve.explain import percent

    console = _console()
    console.print(f"[bold]{escape(heading)}[/]")
    if seeds:
        console.print("seeds: " + "; ".join(escape(model.label(s)) for s in seeds))
    noun = model.listener_noun
    for i, pick in enumerate(picks, 1):
        gem = "[green]◆[/]" if pick.is_tail else " "
        standing = (
            f"{pick.popularity:,} {noun}{'s' if pick.popularity != 1 else ''} · percentile {percent(pick.popularity_percentile)}"
            if model.has_listens
            else "no listening data"
        )
        console.print(f"{i:>3} {gem} {escape(model.label(pick.row))}  [dim]{standing}[/]")
        console.print(f"      [dim]{escape(pick.why)}[/]")
    if model.simulated:
        console.print("[dim]listener counts come from a simulated listening log · ◆ = long tail[/]")


@app.command(
    epilog="Examples:\n\n"
    '  gems recommend --model models/demo --like "Main Theme"\n\n'
    '  gems recommend -m models/demo --like "Menu (Warzone 2100 OST)" --like hyperrogue-hr3-caves -k 5 --json\n\n'
    "  gems recommend -m models/demo --user sim-user-0007 --discount 0"
)
def recommend(
    model: ModelDir,
    like: Like = None,
    user: User = None,
    k: TopK = None,
    discount: Discount = None,
    per_soundtrack: PerSoundtrack = None,
    scope: Scope = None,
    deep_cuts: DeepCuts = False,
    tail_share: TailShare = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """Hidden gems close to the tracks you love (or a listener's history), popularity discounted."""
    from gems.serve import open_model, recommend

    loaded = open_model(model)
    options = _options(loaded, k, discount, per_soundtrack, scope, deep_cuts, tail_share)
    answer = recommend(loaded, options, like=like, user=user)
    if as_json:
        sys.stdout.write(json.dumps([p.to_dict() for p in answer.picks], ensure_ascii=False, indent=2) + "\n")
        return
    _print_picks(loaded, answer.seeds, answer.picks, f"Hidden gems for {user}" if user else "Hidden gems")


@app.command(
    epilog="Examples:\n\n"
    '  gems playlist --model models/demo --like "Main Theme" --length 12 --out gems.m3u8\n\n'
    '  gems playlist -m models/demo --like "Main Theme" --like "Desert" --arc --out gems.xspf\n\n'
    "  gems playlist -m models/demo --user sim-user-0042 --length 25 --out mine.jspf"
)
def playlist(
    model: ModelDir,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Playlist file to write; its suffix picks the format: .m3u8, .xspf or .jspf."),
    ],
    like: Like = None,
    user: User = None,
    length: Annotated[int, typer.Option("--length", "-n", help="Number of tracks.")] = 25,
    arc: Annotated[
        bool, typer.Option("--arc", help="Let the energy rise to a peak two thirds of the way, then fall.")
    ] = False,
    discount: Discount = None,
    per_soundtrack: PerSoundtrack = None,
    scope: Scope = None,
    deep_cuts: DeepCuts = False,
) -> None:
    """A playlist of hidden gems, ordered so the sound flows, in a file your player opens."""
    from gems.model import Model
    from gems.playlist import make_playlist

    loaded = Model(model)
    options = _options(loaded, length, discount, per_soundtrack, scope, deep_cuts)
    summary = make_playlist(loaded, out, options, like=like, user=user, arc=arc)
    note = f" ({summary.without_file} without a local audio file, listed by track URI)" if summary.without_file else ""
    _console().print(f"{summary.tracks} tracks -> {escape(str(summary.path))}{note}")


@app.command(
    epilog="Examples:\n\n"
    "  gems export --model models/demo -k 50 --out recs.parquet\n\n"
    "  gems export -m models/mpd --users users.txt -k 50 --out recs.csv\n\n"
    "  gems export -m models/demo -k 25 --playlists playlists --playlist-format xspf"
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
    options = _options(loaded, k, discount, per_soundtrack, scope, tail_share=tail_share)
    wanted = read_user_ids(users) if users is not None else None
    summary = export_batch(
        loaded,
        options,
        out=out,
        playlists=playlists,
        playlist_format=playlist_format,
        user_ids=wanted,
        show_progress=not no_progress,
        runner=Runner(
            workers=workers or default_workers(), scheduler=loaded.scheduler if scheduler is None else scheduler
        ),
    )
    console = _console()
    if out is not None:
        console.print(f"{summary.rows:,} recommendations for {summary.users:,} users -> {summary.out}")
    if playlists is not None:
        console.print(f"{summary.playlists:,} playlists ({summary.rows:,} tracks) -> {summary.playlist_folder}")


@app.command(
    epilog="Examples:\n\n"
    "  gems evaluate --listens ../shared/data/mpd-sample/slices --listens-format mpd --out reports/mpd\n\n"
    "  gems evaluate pipelines/demo.toml --out reports/demo\n\n"
    "  gems evaluate --recs recs.parquet --truth truth.csv --listens train.parquet -k 50 --out reports/scored"
)
def evaluate(
    pipeline: Annotated[Path | None, typer.Argument(help="Pipeline TOML file: sources and parameters.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for metrics.json, report.md, plots.")] = None,
    listens: Annotated[Path | None, typer.Option(help="Listens file or folder (training data with --recs).")] = None,
    listens_format: Annotated[str | None, typer.Option(help=FORMAT_HELP)] = None,
    catalog: Annotated[Path | None, typer.Option(help="Catalogue table (soundtrack flags, audio paths).")] = None,
    protocol: Annotated[
        str, typer.Option(help="auto, random, temporal or playlist (RecSys 2018 continuation).")
    ] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the split and of every randomised method.")] = 0,
    k: Annotated[
        list[int] | None, typer.Option("-k", "--k", help="Cut-offs (repeatable) [default: 10 and 50].")
    ] = None,
    part: Annotated[str, typer.Option(help="test (report) or validation (tune parameters).")] = "test",
    recs: Annotated[Path | None, typer.Option(help="Score these recommendations (user_id, rank, track_id).")] = None,
    truth: Annotated[Path | None, typer.Option(help="Held-out truth for --recs (user_id, track_id).")] = None,
    no_progress: NoProgress = False,
) -> None:
    """Offline evaluation: accuracy and long-tail reach of gems against baselines, or of any system's --recs."""
    if out is None:
        raise ParameterError("give --out DIR for metrics.json, report.md and the plots")
    ks = tuple(k) if k else (10, 50)
    if part not in ("test", "validation"):
        raise ParameterError(f"--part must be test or validation, got '{part}'")
    console = _console()
    if recs is not None or truth is not None:
        from gems.evaluate import score_recommendations, write_scored
        from gems.ingest import read_listens

        if recs is None or truth is None or listens is None:
            raise ParameterError("scoring needs all three of --recs, --truth and --listens (the training listens)")
        train, _ = read_listens(listens, format=listens_format or "auto")
        metrics = score_recommendations(recs, truth, train, ks)
        path = write_scored(metrics, out)
        for key in (
            f"{name}@{cut}" for cut in ks for name in ("ndcg", "recall", "tail_recall", "aplt", "arp", "coverage")
        ):
            console.print(f"  {key:<16} {metrics[key]:.4f}")
        console.print(f"-> {path}")
        return
    from gems.build import load_or_default_config
    from gems.evaluate.experiment import run_experiment

    config = load_or_default_config(pipeline, listens=listens, listens_format=listens_format, catalog=catalog)
    result, paths = run_experiment(
        config, out, protocol=protocol, seed=seed, ks=ks, part=part, show_progress=not no_progress
    )
    table = result.table()
    cut = max(ks)
    columns = [
        c
        for c in (f"ndcg@{cut}", f"recall@{cut}", f"tail_recall@{cut}", f"aplt@{cut}", f"coverage@{cut}")
        if c in table
    ]
    console.print(table[columns].to_string(float_format=lambda v: f"{v:.4f}"))
    console.print(f"-> {', '.join(str(p) for p in paths.values())}")


@app.command(epilog="Examples:\n\n  gems info --model models/demo\n\n  gems info -m models/demo --tracks")
def info(
    model: ModelDir,
    tracks: Annotated[bool, typer.Option("--tracks", help="Also list every track with its popularity.")] = False,
) -> None:
    """What a model holds: sources, counts, spaces, stages and library versions."""
    from gems.model import Model

    loaded = Model(model)
    m = loaded.manifest
    console = _console()
    counts = m["counts"]
    simulated = " (simulated)" if m.get("listens_simulated") else ""
    console.print(f"[bold]{loaded.path}[/] built {m['created_at']} by gems {m['gems_version']}")
    for role in ("catalog", "audio", "listens"):
        if m["config"].get(role):
            console.print(f"  {role}: {m['config'][role]}")
    console.print(
        f"  {counts['tracks']:,} tracks · {counts['listens']:,} listens{simulated} · {counts['users']:,} listeners · "
        f"audio {counts['audio_ok']:,} ok / {counts['audio_failed']:,} failed · head {counts['head']:,} / tail {counts['tail']:,}"
    )
    from gems.serve.catalogue import ranking_summary

    console.print(f"  spaces: {', '.join(m['spaces']) or 'none'} · rank defaults: {escape(str(m['rank_defaults']))}")
    console.print(f"  {escape(ranking_summary(loaded))}")
    for name, stage in m["stages"].items():
        console.print(
            f"  stage {name}: {'reused' if stage['reused'] else 'built'} in {stage['seconds']:.2f}s {stage['counts']}"
        )
    console.print("  versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    if tracks:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("track_id", "title", "soundtrack", "listeners", "pct", "tail", "theme"):
            table.add_column(column)
        for row in range(loaded.n_tracks):
            table.add_row(
                loaded.track_ids[row],
                loaded.titles[row],
                loaded.soundtracks[row] or "",
                f"{int(loaded.listeners[row]):,}",
                f"{loaded.percentile[row]:.0f}",
                "◆" if loaded.is_tail[row] else "",
                "theme" if loaded.is_theme[row] else "",
            )
        console.print(table)


@app.command(epilog="Example:\n\n  gems demo")
def demo(no_progress: NoProgress = False) -> None:
    """Build models/demo from the bundled demo (real soundtrack excerpts, simulated listens) and show gems."""
    from gems.build import build_model
    from gems.config import load_pipeline
    from gems.demo import demo_seeds, find_demo_pipeline
    from gems.model import Model
    from gems.serve.recommend import picks_for, rank_options

    config = load_pipeline(find_demo_pipeline())
    _print_build(build_model(config, show_progress=not no_progress))
    loaded = Model(config.model)
    options = rank_options(loaded, k=5)
    for seed in demo_seeds(loaded):
        (picks,) = picks_for(loaded, [[seed]], options)
        _print_picks(loaded, [], picks, f"\nIf you love {loaded.label(seed)}, the theme everyone knows, try:")
    _console().print(
        f'\nNext: gems recommend --model {config.model} --like "<a title>"  ·  gems info --model {config.model} --tracks'
    )


@app.command(
    epilog="Examples:\n\n"
    "  gems serve --model models/demo\n\n"
    "  gems serve -m models/demo --port 9000\n\n"
    "  gems serve -m models/mine --host 0.0.0.0   # reachable from other machines of your network"
)
def serve(
    model: ModelDir,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 opens it to your network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
) -> None:
    """A web page over a model: search seeds, listen to the gems, re-rank, build and download playlists."""
    import gems.web as web  # FastAPI and uvicorn only here: the other commands start without them

    verbose = logging.getLogger().isEnabledFor(logging.INFO)
    application = web.create_app(model)
    sock = web.bind(host, port)
    _console().print(f"gems serving {escape(str(model))} at [bold]{web.url_of(sock)}[/]  (Ctrl-C stops)")
    web.serve_forever(application, sock, log_level="info" if verbose else "warning")
    _console().print("stopped")


# ----------------------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a user mistake prints one red line on stderr and returns 1."""
    try:
        result = app(args=argv, prog_name="gems", standalone_mode=False)
    except GemsError as exc:
        return _error(str(exc))
    except typer.Abort:
        return _error("aborted")
    except typer.TyperException as exc:  # usage errors: a missing option, a bad value, an unknown command
        context = getattr(exc, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context is not None else ""
        return _error(exc.format_message() + hint)
    except KeyboardInterrupt:
        return _error("interrupted; nothing half-written was kept")
    except Exception as exc:  # a bug in gems, not the user's mistake: still one line, the traceback on demand
        if logging.getLogger().isEnabledFor(logging.INFO):  # --verbose
            logging.getLogger("gems").error("unexpected error", exc_info=True)
        return _error(
            f"unexpected {type(exc).__name__}: {exc} — this is a bug in gems; please report it "
            "(run again with --verbose to see the traceback)"
        )
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
