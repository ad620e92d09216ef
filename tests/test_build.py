"""gems build: stages, caching by inputs, atomic model folders, loading without pickles."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import gems.stages
from gems.cf import CFParams
from gems.config import BuildConfig, load_pipeline
from gems.errors import ModelError, ParameterError
from gems.model import Model
from gems.stages import build_model
from listenskit import write_listens


@pytest.fixture
def listens_config(tmp_path):
    return BuildConfig(model=tmp_path / "models" / "m", listens=write_listens(tmp_path / "listens.csv"))


def test_listens_only_build(listens_config):
    result = build_model(listens_config)
    manifest = result.manifest
    assert manifest["spaces"] == ["cf"]
    assert manifest["counts"]["tracks"] == 36 and manifest["counts"]["users"] == 90
    stages = {"ingest", "catalogue", "interactions", "popularity", "cf", "neighbours", "index", "ranker"}
    assert stages == set(manifest["stages"])
    assert manifest["stages"]["ranker"]["counts"]["skipped"]  # 90 listeners are too few to learn a ranker from
    assert manifest["versions"]["implicit"] != "absent"
    model = Model(result.path)
    hits = [model.lookup.resolve(f"g{g}-t0") for g in range(3)]
    assert all(model.is_theme[h] and not model.is_tail[h] for h in hits)
    assert model.titles[hits[0]] == "Track 0 of 0"


def test_unchanged_rebuild_reuses_every_stage_without_heavy_imports(listens_config):
    build_model(listens_config)
    script = (
        "import sys, json; from gems.stages import build_model; from gems.config import BuildConfig; "
        f"r = build_model(BuildConfig(model={str(listens_config.model)!r}, listens={str(listens_config.listens[0].path)!r})); "
        "print(json.dumps({'reused': [s['reused'] for s in r.manifest['stages'].values()], "
        "'heavy': [m for m in ('implicit', 'sklearn', 'librosa') if m in sys.modules]}))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert all(report["reused"]) and report["heavy"] == []


def test_changing_a_cf_parameter_reruns_only_what_depends_on_it(listens_config):
    build_model(listens_config)
    changed = replace(listens_config, cf=CFParams(factors=8))
    stages = build_model(changed).manifest["stages"]
    assert {name for name, s in stages.items() if not s["reused"]} == {"cf", "index", "ranker"}  # not neighbours


def test_changing_the_listens_reruns_from_ingest(listens_config, tmp_path):
    build_model(listens_config)
    with open(listens_config.listens[0].path, "a") as f:
        f.write("u999,g0-t1,1,Track 1 of 0,Soundtrack 0\n")
    stages = build_model(listens_config).manifest["stages"]
    # the same tracks: only the catalogue's sort orders stay; everything fed by the listens is rebuilt
    assert {name for name, s in stages.items() if s["reused"]} == {"catalogue"}


def test_a_failing_build_leaves_the_old_model_and_no_temporary_folder(listens_config, monkeypatch):
    first = build_model(listens_config)
    before = (first.path / "manifest.json").read_text()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gems.stages, "fit_index", broken)
    with pytest.raises(RuntimeError):
        build_model(replace(listens_config, cf=CFParams(factors=4)))
    assert (first.path / "manifest.json").read_text() == before
    assert sorted(p.name for p in first.path.parent.iterdir()) == ["m"]
    Model(first.path)


def test_model_arrays_load_without_pickle(listens_config):
    path = build_model(listens_config).path
    for npy in path.rglob("*.npy"):
        np.load(npy, allow_pickle=False)
    with pytest.raises(ModelError, match="not a gems model folder"):
        Model(path.parent)
    with pytest.raises(ModelError, match="does not exist"):
        Model(path.parent / "nope")


def test_pipeline_files_are_checked(tmp_path):
    good = tmp_path / "p.toml"
    good.write_text('[sources]\nlistens = "l.csv"\n[model]\npath = "out"\n[cf]\nfactors = 8\nalpha = 1\n')
    config = load_pipeline(good)
    assert config.listens[0].path == tmp_path / "l.csv" and config.model == tmp_path / "out"
    assert config.cf.factors == 8 and config.cf.alpha == 1.0
    bad = tmp_path / "bad.toml"
    bad.write_text("[cf]\nfactorz = 8\n")
    with pytest.raises(ParameterError, match=r"bad.toml \[cf\]: unknown key\(s\) factorz; known keys are factors"):
        load_pipeline(bad)
    bad.write_text('[cf]\nfactors = "many"\n')
    with pytest.raises(ParameterError, match="factors must be an int"):
        load_pipeline(bad)
    bad.write_text("[sauces]\n")
    with pytest.raises(ParameterError, match="unknown section"):
        load_pipeline(bad)


def test_a_dask_section_sends_audio_extraction_to_that_scheduler(tmp_path):
    import soundfile as sf

    pipeline = tmp_path / "p.toml"
    pipeline.write_text(
        '[sources]\naudio = "audio"\n[model]\npath = "models/m"\n[dask]\nscheduler = "tcp://127.0.0.1:1"\n'
    )
    config = load_pipeline(pipeline)
    assert config.dask.scheduler == "tcp://127.0.0.1:1"
    (tmp_path / "audio").mkdir()
    tone = np.sin(np.linspace(0, 2000, 3 * 22050)).astype(np.float32)
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / "audio" / name, tone, 22050)
    pytest.importorskip("distributed", reason="Dask is the optional extra gems[dask]")
    with pytest.raises(ParameterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        build_model(config, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "models").exists() or list((tmp_path / "models").iterdir()) == []


def test_export_never_runs_where_a_model_folder_says(listens_config, tmp_path):
    """A model folder may come from anyone: the [dask] scheduler it was built with is not where export sends
    work (--scheduler decides), so a model built for an unreachable cluster exports locally."""
    from gems.cli import main
    from gems.config import DaskParams

    built = build_model(replace(listens_config, dask=DaskParams(scheduler="tcp://127.0.0.1:1")))
    assert main(["export", "-m", str(built.path), "-k", "3", "--out", str(tmp_path / "r.csv"), "--no-progress"]) == 0
    assert len(pd.read_csv(tmp_path / "r.csv")) > 0
