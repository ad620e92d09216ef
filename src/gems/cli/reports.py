"""Commands that describe and measure: evaluate, info, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

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
        console.print(f"-> {path}")
        return
    from gems.build import load_or_default_config
    from gems.config import ListensSource
    from gems.evaluate.experiment import run_experiment

    sources = (ListensSource(listens, listens_format or "auto"),) if listens is not None else None
    config = load_or_default_config(pipeline, listens=sources, catalog=catalog)
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
    console = new_console()
    counts = m["counts"]
    simulated = " (simulated)" if m.get("listens_simulated") else ""
    console.print(f"[bold]{loaded.path}[/] built {m['created_at']} by gems {m['gems_version']}")
    sources = m["config"]
    if sources.get("catalog"):
        console.print(f"  catalog: {escape(sources['catalog'])}")
    for folder in sources.get("audio") or []:
        console.print(f"  audio: {escape(folder)}")
    for source in sources.get("listens") or []:
        console.print(f"  listens: {escape(source['path'])} ({source['format']})")
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
    print_build(build_model(config, show_progress=not no_progress))
    loaded = Model(config.model)
    options = rank_options(loaded, k=5)
    for seed in demo_seeds(loaded):
        (picks,) = picks_for(loaded, [[seed]], options)
        print_picks(loaded, [], picks, f"\nIf you love {loaded.label(seed)}, the theme everyone knows, try:")
    new_console().print(
        f'\nNext: gems recommend --model {config.model} --like "<a title>"  ·  gems info --model {config.model} --tracks'
    )
