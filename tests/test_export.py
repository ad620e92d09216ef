"""Batch export: local workers and Dask give the same output as one process; an interrupted export resumes."""

from __future__ import annotations

import pandas as pd
import pytest

import gems.serve.export
from gems.config import BuildConfig
from gems.model import Model
from gems.parallel import Runner
from gems.rank import RankOptions
from gems.serve.export import export_batch
from gems.stages import build_model
from listenskit import write_listens


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    config = BuildConfig(model=root / "m", listens=write_listens(root / "listens.csv"))
    return Model(build_model(config).path)


class Interrupted(Exception):
    """Stands for Ctrl-C or a killed process part-way through an export."""


def export(model, out, runner=None, **options):
    return export_batch(model, RankOptions(k=5, **options), out=out, block=16, runner=runner)


def test_worker_processes_give_the_same_rows(model, tmp_path):
    export(model, tmp_path / "one.parquet")
    export(model, tmp_path / "two.parquet", Runner(workers=2))
    one, two = pd.read_parquet(tmp_path / "one.parquet"), pd.read_parquet(tmp_path / "two.parquet")
    assert len(one) == 90 * 5
    pd.testing.assert_frame_equal(one, two)


def test_an_interrupted_export_resumes_where_it_stopped(model, tmp_path, monkeypatch):
    export(model, tmp_path / "whole.csv")
    calls = []
    original = gems.serve.export.rank_block

    interrupt = [True]

    def failing(task):
        calls.append(len(task[2]))
        if len(calls) == 3 and interrupt[0]:
            interrupt[0] = False
            raise Interrupted  # during the third block
        return original(task)

    monkeypatch.setattr(gems.serve.export, "rank_block", failing)
    out = tmp_path / "recs.csv"
    with pytest.raises(Interrupted):
        export(model, out)
    assert not out.exists()  # never a truncated file under the final name
    parts = sorted((tmp_path / ".recs.csv.parts").glob("part-*.parquet"))
    assert [p.name for p in parts] == ["part-000000.parquet", "part-000001.parquet"]

    calls.clear()
    export(model, out)
    assert len(calls) == 4  # six blocks of 16 of the 90 users: only the four not done are ranked
    assert out.read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert not (tmp_path / ".recs.csv.parts").exists()


def test_other_settings_start_an_interrupted_export_over(model, tmp_path, monkeypatch):
    out = tmp_path / "recs.parquet"
    original = gems.serve.export.rank_block
    monkeypatch.setattr(gems.serve.export, "rank_block", lambda task: (_ for _ in ()).throw(Interrupted))
    with pytest.raises(Interrupted):
        export(model, out)
    monkeypatch.setattr(gems.serve.export, "rank_block", original)
    export(model, out, discount=0.3)
    export(model, tmp_path / "fresh.parquet", discount=0.3)
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(tmp_path / "fresh.parquet"))


def test_a_dask_cluster_gives_the_same_rows(model, tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask is the optional extra gems[dask]")
    export(model, tmp_path / "local.parquet")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        export(model, tmp_path / "dask.parquet", Runner(scheduler=cluster.scheduler_address))
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "local.parquet"), pd.read_parquet(tmp_path / "dask.parquet")
    )


def test_an_unreachable_scheduler_is_one_clear_error(model, tmp_path):
    pytest.importorskip("distributed", reason="Dask is the optional extra gems[dask]")
    from gems.errors import ParameterError

    with pytest.raises(ParameterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        export(model, tmp_path / "x.parquet", Runner(scheduler="tcp://127.0.0.1:1"))
