"""Commands that read sources: build, extract, ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gems.audio.params import AudioParams
from gems.cli.app import (
    ListensColumns,
    ListensFormat,
    ModelDir,
    NoProgress,
    Scheduler,
    Workers,
    app,
    new_console,
    parse_columns,
)
from gems.errors import ParameterError
from gems.terminal import shown


def _print_report(console, report: dict) -> None:
    """One source's ingest report: rows kept, then each set-aside reason with a count and an example."""
    console.print(
        f"[bold]{shown(report['source'])}[/]: {shown(report['format'])}, {report['rows_kept']:,} of "
        f"{report['rows_read']:,} rows kept"
    )
    for reason, n in report["set_aside"].items():
        example = (report["examples"].get(reason) or [""])[0]
        console.print(f"  set aside {n:,} × {shown(reason)}" + (f"  [dim]e.g. {shown(example)}[/]" if example else ""))
    for note in report["notes"]:
        console.print(f"  [yellow]note:[/] {shown(note)}")


def print_build(result) -> None:
    from rich.table import Table

    console = new_console()
    for report in result.reports:
        _print_report(console, report)
    if result.audio_failures:
        console.print(f"[yellow]{len(result.audio_failures)} audio file(s) skipped:[/]")
        for failure in result.audio_failures:
            console.print(
                f"  [yellow]{shown(failure['status'])}[/] {shown(failure['path'])}: {shown(failure['reason'])}"
            )
    table = Table(title=None, box=None, pad_edge=False)
    for column in ("stage", "status", "seconds", "counts"):
        table.add_column(column)
    for name, stage in result.manifest["stages"].items():
        counts = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in stage["counts"].items())
        table.add_row(shown(name), "reused" if stage["reused"] else "built", f"{stage['seconds']:.2f}", shown(counts))
    console.print(table)
    counts = result.manifest["counts"]
    simulated = " (simulated)" if result.manifest["listens_simulated"] else ""
    console.print(
        f"[green]model written to {shown(result.path)}[/] in {result.seconds:.1f}s: {counts['tracks']:,} tracks, "
        f"{counts['listens']:,} listens{simulated} by {counts['users']:,} listeners, "
        f"{counts['audio_ok']:,} with audio; spaces: {', '.join(result.manifest['spaces']) or 'none'}"
    )


@app.command(
    epilog="Examples:\n\n"
    "  gems build pipelines/demo.toml\n\n"
    "  gems build --audio ~/Music/OST --model models/mine\n\n"
    "  gems build --catalog tracks.csv --listens plays.csv --listens-columns user=uid,weight=n --model models/mine\n\n"
    "  gems build --listens mpd/slices:mpd --listens my_spotify_data.zip --audio ~/Music/OST --model models/mine"
)
def build(
    pipeline: Annotated[Path | None, typer.Argument(help="Pipeline TOML file (flags override it).")] = None,
    audio: Annotated[
        list[Path] | None, typer.Option(help="Folder of audio files (wav, flac, ogg, opus, mp3); repeatable.")
    ] = None,
    catalog: Annotated[
        Path | None, typer.Option(help="Catalogue table (CSV/TSV/Parquet) with track_id, title, path, ...")
    ] = None,
    listens: Annotated[
        list[str] | None,
        typer.Option(
            help="Listens file, folder or zip; repeatable, each linked into one catalogue. PATH:FORMAT sets the "
            "format of one source."
        ),
    ] = None,
    listens_format: Annotated[
        str | None, typer.Option(help="Format of the --listens sources without :FORMAT [default: detected].")
    ] = None,
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

    from gems.config import ListensSource
    from gems.stages import build_model, load_or_default_config

    columns = parse_columns(listens_columns)
    sources = [ListensSource.parse(text, format=listens_format or "auto", columns=columns) for text in listens or ()]
    config = load_or_default_config(
        pipeline, model=model, audio=tuple(audio or ()), catalog=catalog, listens=tuple(sources)
    )
    if workers is not None:
        if workers < 1:
            raise ParameterError(f"--workers must be at least 1, got {workers}")
        config = replace(config, audio_params=replace(config.audio_params, workers=workers))
    if scheduler is not None:
        config = replace(config, dask=replace(config.dask, scheduler=scheduler))
    print_build(build_model(config, show_progress=not no_progress))


@app.command(
    epilog="Examples:\n\n  gems extract data/demo/audio --out embeddings.parquet\n\n  gems extract ~/Music/OST --out ost.parquet --workers 2 --strict"
)
def extract(
    audio_dir: Annotated[Path, typer.Argument(help="Folder of audio files, searched recursively.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write: one row per file.")],
    workers: Workers = None,
    scheduler: Scheduler = None,
    excerpt: Annotated[
        float, typer.Option(help="Seconds analysed from the middle of each file (0 = whole file).")
    ] = AudioParams.excerpt_s,
    strict: Annotated[bool, typer.Option(help="Exit with code 1 if any file fails.")] = False,
    no_progress: NoProgress = False,
) -> None:
    """Audio embeddings alone: a row per file with `status` ("ok" or what went wrong), `reason`, `embedding`
    (the 800-d musicnn sound vector gems build uses) and `tags` (50 MTT tag probabilities)."""
    from gems.extract import extract_folder

    summary = extract_folder(
        audio_dir,
        out,
        workers=workers,
        scheduler=scheduler,
        excerpt_s=excerpt,
        show_progress=not no_progress,
    )
    console = new_console()
    for failure in summary.failures:
        console.print(f"  [yellow]{shown(failure['status'])}[/] {shown(failure['path'])}: {shown(failure['reason'])}")
    console.print(
        f"{summary.ok:,} of {summary.files:,} files embedded ({summary.dims} dims) in {summary.seconds:.1f}s "
        f"[{summary.cache_hits:,} from cache] -> {shown(out)}"
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

    summary = ingest_listens(listens, out, format=listens_format, columns=parse_columns(listens_columns))
    console = new_console()
    how = "detected" if summary.detected else "as asked"
    console.print(f"format: [bold]{shown(summary.format)}[/] ({how})")
    _print_report(console, summary.report.to_dict())
    console.print(
        f"{summary.users:,} users, {summary.tracks:,} tracks ({summary.soundtrack_tracks:,} soundtrack) -> "
        f"{shown(summary.out)}"
    )


@app.command(
    epilog="Examples:\n\n"
    "  gems link --model models/mpd --listens my_spotify_data.zip --out links.csv\n\n"
    "  gems link -m models/mpd --listens scrobbles.csv --listens-format lastfm-scrobbles --out links.parquet"
)
def link(
    model: ModelDir,
    listens: Annotated[Path, typer.Option(help="Listens file, folder or zip to link to the model's tracks.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Table to write, .csv or .parquet: a row per track.")],
    listens_format: ListensFormat = "auto",
    listens_columns: ListensColumns = None,
) -> None:
    """Which of a source's tracks the model holds: linked by a shared id or by name, else to their album or
    artist in the model, ambiguous, or not there."""
    from gems.serve import open_model
    from gems.serve.history import write_links

    summary = write_links(open_model(model), listens, out, fmt=listens_format, columns=parse_columns(listens_columns))
    new_console().print(f"{shown(listens)}: {shown(summary)} -> {shown(out)}")
