"""The data commands end to end: ingest, build from a named format, export, evaluate (both modes)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

from gems.cli import main
from listenskit import write_listens

FIXTURES = Path(__file__).parent / "fixtures"


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ingest_detects_the_format_and_reports_what_it_set_aside(tmp_path, capsys):
    out = tmp_path / "me.parquet"
    code, text, err = run(capsys, "ingest", "--listens", FIXTURES / "exports" / "spotify_history", "--out", out)
    assert code == 0, err
    assert "format: spotify-history (detected)" in text and "set aside" in text and "podcast" in text
    table = pd.read_parquet(out)
    assert {"user_id", "track_id", "weight", "timestamp", "title", "artist", "is_soundtrack"} <= set(table.columns)


@pytest.mark.parametrize("payload", [b"", b"\x00\x01\x02binary", b'{"not": "an export"}', b"just, some\nrandom text"])
def test_ingest_never_ends_in_a_traceback(tmp_path, capsys, payload):
    source = tmp_path / "export.json"
    source.write_bytes(payload)
    code, _, err = run(capsys, "ingest", "--listens", source, "--out", tmp_path / "x.parquet")
    assert code == 1 and "Traceback" not in err and err.startswith("error:")
    assert not (tmp_path / "x.parquet").exists()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    listens = write_listens(root / "listens.csv")
    assert (
        main(
            [
                "build",
                "--listens",
                str(listens),
                "--listens-format",
                "table",
                "--model",
                str(root / "m"),
                "--no-progress",
            ]
        )
        == 0
    )
    return root / "m", listens


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_export_every_user_in_each_format(model, tmp_path, capsys, suffix):
    path = tmp_path / f"recs{suffix}"
    code, text, err = run(capsys, "export", "--model", model[0], "-k", "5", "--out", path, "--no-progress")
    assert code == 0, err
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".csv":
        frame = pd.read_csv(path, dtype={"user_id": str, "track_id": str})
    else:
        frame = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    assert list(frame.columns) == ["user_id", "rank", "track_id", "score", "popularity"]
    assert frame["user_id"].nunique() == 90 and frame.groupby("user_id")["rank"].max().max() == 5
    listened = pd.read_csv(model[1])
    heard = set(zip(listened["user"], listened["track"]))
    assert not any((u, t) in heard for u, t in zip(frame["user_id"], frame["track_id"]))  # training items excluded
    assert not list(tmp_path.glob(".recs*"))  # no partial file left behind


def test_export_warns_about_unknown_users(model, tmp_path, capsys):
    users = tmp_path / "users.txt"
    users.write_text("u001\nnobody\n\nu002\n")
    code, text, err = run(
        capsys, "export", "-m", model[0], "--users", users, "-k", "3", "--out", tmp_path / "r.csv", "--no-progress"
    )
    assert code == 0 and "6 recommendations for 2 users" in text
    assert "1 requested user(s) are not in the model" in err and "nobody" in err


def test_evaluate_runs_every_method_and_writes_the_report(model, tmp_path, capsys):
    out = tmp_path / "report"
    code, text, err = run(
        capsys, "evaluate", "--listens", model[1], "--protocol", "random", "--out", out, "--no-progress"
    )
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    anchors = {"RP3beta", "EASE^R", "ALS / pop^β"}
    tuned = anchors | {f"{name} (PSR-tuned)" for name in anchors}
    assert {"ALS", "ItemKNN", "MostPopular", "Random", "gems"} | tuned <= set(metrics["methods"])
    assert 0 <= metrics["methods"]["gems"]["metrics"]["psr@50"] <= 1
    assert 0 <= metrics["methods"]["gems"]["metrics"]["hits@10"] <= 1
    scores = metrics["extra"]["anchor_tuning"]["scores"]["ALS / pop^β"]
    best = max(scores, key=lambda params: scores[params]["psr@50"])
    assert metrics["methods"]["ALS / pop^β (PSR-tuned)"]["params"]["beta"] == ast.literal_eval(best)["beta"]
    assert (out / "report.md").read_text().startswith("#")
    assert (out / "frontier_k50.png").stat().st_size > 0 and (out / "popularity.png").stat().st_size > 0
    assert metrics["seeds"] == [0] and "interval" not in metrics["methods"]["gems"]


def test_evaluate_over_several_seeds_reports_intervals(model, tmp_path, capsys):
    out = tmp_path / "report"
    code, _, err = run(
        capsys,
        "evaluate",
        "--listens",
        model[1],
        "--protocol",
        "random",
        "--seeds",
        "3,4",
        "--out",
        out,
        "--no-progress",
    )
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    gems = metrics["methods"]["gems"]
    assert metrics["seeds"] == [3, 4] and set(gems["per_seed"]) == {"3", "4"}
    per_seed = [gems["per_seed"][s]["psr@50"] for s in ("3", "4")]
    assert gems["metrics"]["psr@50"] == pytest.approx(sum(per_seed) / 2)
    low, high = gems["interval"]["psr@50"]
    assert low <= min(per_seed) and high >= max(per_seed)
    code, _, err = run(capsys, "evaluate", "--listens", model[1], "--seeds", "1,x", "--out", out)
    assert code == 1 and "--seeds" in err


def test_evaluate_scores_any_systems_recommendations(tmp_path, capsys):
    train = tmp_path / "train.csv"
    train.write_text("user_id,track_id\na,x\na,y\nb,y\nb,z\nc,x\nc,y\nc,z\n")
    recs = tmp_path / "recs.csv"
    recs.write_text("user_id,rank,track_id\na,1,z\na,2,w\nb,1,x\n")
    truth = tmp_path / "truth.csv"
    truth.write_text("user_id,track_id\na,z\nb,q\n")  # b's truth is absent from TRAIN: left out
    out = tmp_path / "scored"
    code, text, err = run(
        capsys, "evaluate", "--recs", recs, "--truth", truth, "--listens", train, "-k", "2", "--out", out
    )
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics)[:6] == ["ndcg@2", "recall@2", "tail_recall@2", "aplt@2", "arp@2", "coverage@2"]
    assert metrics["ndcg@2"] == pytest.approx(1.0) and metrics["recall@2"] == pytest.approx(1.0)
    code, _, err = run(capsys, "evaluate", "--recs", recs, "--out", out)
    assert code == 1 and "needs all three" in err
