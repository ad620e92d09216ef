"""Commands that describe and measure: evaluate, info, demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gems.cli.app import (
    FORMAT_HELP,
    ModelDir,
    NoProgress,
    app,
    new_console,
)
from gems.cli.serving import print_picks
from gems.cli.sources import print_build
from gems.errors import ParameterError
from gems.safe_files import check_output
from gems.terminal import json_text, shown


@app.command(
    epilog="Examples:\n\n"
    "  gems evaluate --listens ../shared/data/mpd-sample/slices --listens-format mpd --out reports/mpd\n\n"
    "  gems evaluate pipelines/demo.toml --out reports/demo\n\n"
    "  gems evaluate --listens ../shared/data/lastfm-hetrec2011-2k --seeds 0,1,2 --part validation --out reports/v\n\n"
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
    seeds: Annotated[
        str | None,
        typer.Option(help="Several seeds, e.g. 0,1,2: one split, tuning and model each; means and 95% intervals."),
    ] = None,
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
    check_output(out, folder=True)
    ks = tuple(k) if k else (10, 50)
    if not all(1 <= cut <= 10_000 for cut in ks):
        raise ParameterError(f"-k must be between 1 and 10000, got {', '.join(map(str, ks))}")
    chosen_seeds = _seeds(seeds) if seeds is not None else (seed,)
    for one in chosen_seeds:
        if not 0 <= one < 2**32:
            raise ParameterError(f"--seed must be between 0 and {2**32 - 1}, got {one}")
    if part not in ("test", "validation"):
        raise ParameterError(f"--part must be test or validation, got '{part}'")
    console = new_console()
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
        console.print(f"-> {shown(path)}")
        return
    from gems.config import ListensSource
    from gems.evaluate.experiment import run_experiment
    from gems.stages import load_or_default_config

    sources = (ListensSource(listens, listens_format or "auto"),) if listens is not None else None
    config = load_or_default_config(pipeline, listens=sources, catalog=catalog)
    result, paths = run_experiment(
        config, out, protocol=protocol, seeds=chosen_seeds, ks=ks, part=part, show_progress=not no_progress
    )
    table = result.table()
    cut = max(ks)
    columns = [
        c
        for c in (f"ndcg@{cut}", f"psr@{cut}", "hits@10", f"recall@{cut}", f"tail_recall@{cut}", f"coverage@{cut}")
        if c in table
    ]
    for line in table[columns].to_string(float_format=lambda v: f"{v:.4f}").splitlines():
        console.print(shown(line))
    console.print(f"-> {shown(', '.join(str(p) for p in paths.values()))}")


def _seeds(text: str) -> tuple[int, ...]:
    """``0,1,2`` -> (0, 1, 2); ParameterError naming the bad part."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() for part in parts):
        raise ParameterError(f"--seeds must be whole numbers separated by commas (e.g. 0,1,2), got '{text}'")
    return tuple(int(part) for part in parts)


@app.command(
    epilog="Examples:\n\n  gems info --model models/demo\n\n  gems info -m models/demo --tracks\n\n"
    "  gems info -m models/demo --tracks --json > tracks.json\n\n  gems info -m models/demo --verify"
)
def info(
    model: ModelDir,
    tracks: Annotated[bool, typer.Option("--tracks", help="Also list every track with its popularity.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON only: the summary as an object, or with --tracks every track.")
    ] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Check every file's content hash against the manifest (reads it all).")
    ] = False,
) -> None:
    """What a model holds: sources, counts, spaces, stages, the default ranking and library versions."""
    from gems.model import Model
    from gems.rank.words import CONFIDENT, confident

    loaded = Model(model)
    if verify:
        files, size = loaded.folder.verify()
        new_console(stderr=as_json).print(
            f"{shown(loaded.path)}: all {files:,} files intact ({size / 1e6:,.1f} MB checked)"
        )
    if as_json:
        records = _track_records(loaded) if tracks else [_summary(loaded)]
        lines = [json_text(record, indent=None if tracks else 2) for record in records]
        sys.stdout.write(("[\n" + ",\n".join(lines) + "\n]" if tracks else lines[0]) + "\n")
        return
    console = new_console()
    _print_summary(console, loaded)
    if tracks:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        worded = loaded.tags is not None  # a model without sound words has no sounds column
        for column in ("track_id", "title", "soundtrack", "listeners", "pct", "tail", "theme", "sounds")[: 7 + worded]:
            table.add_column(column)
        for record in _track_records(loaded):
            words = [", ".join(confident((tag["word"], tag["p"]) for tag in record["tags"]))] if worded else []
            table.add_row(
                shown(record["track_id"]),
                shown(record["title"]),
                shown(record["soundtrack"] or ""),
                f"{record['listeners']:,}",
                f"{record['popularity_percentile']:.0f}",
                "◆" if record["is_tail"] else "",
                "theme" if record["is_theme"] else "",
                *map(shown, words),
            )
        console.print(table)
        if worded:
            console.print(f"[dim]sounds: the words a track's audio holds with p ≥ {CONFIDENT:g} (--json: its tags)[/]")


def _summary(loaded) -> dict:
    """The model's summary as data: path, build, sources, counts, spaces, default ranking and why."""
    from gems.serve.catalogue import ranking_summary

    m = loaded.manifest
    return {
        "model": str(loaded.path),
        "created_at": m.get("created_at"),
        "gems_version": m.get("gems_version"),
        "sources": {key: m["config"].get(key) for key in ("catalog", "audio", "listens")},
        "listens_simulated": bool(m.get("listens_simulated")),
        "counts": {key: value for key, value in m["counts"].items() if isinstance(value, int)},
        "spaces": m["spaces"],
        "rank_defaults": m.get("rank_defaults", {}),
        "scope": loaded.rank_defaults.scope,
        "scope_reason": m.get("scope_reason") or "the pipeline's [rank] scope (built before gems chose it)",
        "ranking": ranking_summary(loaded),
        "stages": m["stages"],
        "versions": m.get("versions", {}),
    }


def _print_summary(console, loaded) -> None:
    summary = _summary(loaded)
    counts = summary["counts"]
    simulated = " (simulated)" if summary["listens_simulated"] else ""
    console.print(
        f"[bold]{shown(loaded.path)}[/] built {shown(summary['created_at'] or '?')} by gems "
        f"{shown(summary['gems_version'] or '?')}"
    )
    sources = summary["sources"]
    if sources.get("catalog"):
        console.print(f"  catalog: {shown(sources['catalog'])}")
    for folder in _listed(sources.get("audio")):
        console.print(f"  audio: {shown(folder)}")
    for source in _listed(sources.get("listens")):
        if isinstance(source, dict):
            console.print(f"  listens: {shown(source.get('path'))} ({shown(source.get('format'))})")
    console.print(
        f"  {counts.get('tracks', 0):,} tracks · {counts.get('listens', 0):,} listens{simulated} · "
        f"{counts.get('users', 0):,} listeners · audio {counts.get('audio_ok', 0):,} ok / "
        f"{counts.get('audio_failed', 0):,} failed · head {counts.get('head', 0):,} / tail {counts.get('tail', 0):,}"
    )
    console.print(
        f"  spaces: {shown(', '.join(summary['spaces']) or 'none')} · rank defaults: {shown(summary['rank_defaults'])}"
    )
    console.print(
        f"  default scope: {shown(summary['scope'])} — {shown(summary['scope_reason'])}; --scope widens or narrows it"
    )
    console.print(f"  {shown(summary['ranking'])}")
    for name, stage in summary["stages"].items():
        seconds = stage.get("seconds") if isinstance(stage.get("seconds"), int | float) else 0.0
        reused = "reused" if stage.get("reused") else "built"
        console.print(f"  stage {shown(name)}: {reused} in {seconds:.2f}s {shown(stage.get('counts', {}))}")
    console.print("  versions: " + shown(", ".join(f"{k} {v}" for k, v in summary["versions"].items())))


def _track_records(loaded) -> list[dict]:
    """Every track as {track_id, title, artist, soundtrack, is_soundtrack, soundtrack_reason, listeners,
    popularity_percentile (0-100, 100 = most played), is_tail, is_theme, tags (as a pick's:
    :func:`gems.serve.recommend.tag_list`)}, in the model's row order."""
    from gems.artifacts import layout
    from gems.serve.recommend import tag_list

    folder = loaded.folder
    flags = [c for c in ("is_soundtrack", "soundtrack_reason") if c in folder.columns(layout.TRACKS)]
    table = folder.table(layout.TRACKS, flags).to_pydict() if flags else {}
    n = loaded.n_tracks
    is_soundtrack = table.get("is_soundtrack", [False] * n)
    reasons = table.get("soundtrack_reason", [None] * n)
    listeners, percentile = loaded.listeners.tolist(), loaded.percentile.tolist()
    is_tail, is_theme = loaded.is_tail.tolist(), loaded.is_theme.tolist()
    ids, titles, artists, soundtracks = loaded.track_ids, loaded.titles, loaded.artists, loaded.soundtracks
    return [
        {
            "track_id": ids[row],
            "title": titles[row],
            "artist": artists[row],
            "soundtrack": soundtracks[row],
            "is_soundtrack": bool(is_soundtrack[row]),
            "soundtrack_reason": reasons[row],
            "listeners": int(listeners[row]),
            "popularity_percentile": round(float(percentile[row]), 2),
            "is_tail": bool(is_tail[row]),
            "is_theme": bool(is_theme[row]),
            "tags": tag_list(loaded, row),
        }
        for row in range(n)
    ]


def _listed(value) -> list:
    """A manifest value that should be a list (one path in older manifests), as a list."""
    return value if isinstance(value, list) else [value] if value else []


@app.command(epilog="Example:\n\n  gems demo")
def demo(no_progress: NoProgress = False) -> None:
    """Build models/demo from the bundled demo (real soundtrack excerpts, simulated listens) and show gems."""
    from gems.config import load_pipeline
    from gems.demo import demo_seeds, find_demo_pipeline
    from gems.model import Model
    from gems.serve.recommend import picks_for
    from gems.stages import build_model

    config = load_pipeline(find_demo_pipeline())
    print_build(build_model(config, show_progress=not no_progress))
    loaded = Model(config.model)
    options = loaded.rank_defaults.with_overrides(k=5)
    console = new_console()
    for seed in demo_seeds(loaded):
        (picks,) = picks_for(loaded, [[seed]], options)
        console.print()
        print_picks(loaded, [], picks, f"If you love {loaded.label(seed)}, the theme everyone knows, try:")
    path = shown(config.model)
    console.print(f'\nNext: gems recommend --model {path} --like "<a title>"  ·  gems info --model {path} --tracks')
